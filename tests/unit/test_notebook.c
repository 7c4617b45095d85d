/* The reader's model of a notebook: cells, sources, tags, ids, versions, language. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/notebook.h"

#include <string.h>

static nb_notebook *read_text(const char *json, nb_diags *diags)
{
    return nb_notebook_read_mem("t.ipynb", json, strlen(json), NULL, diags);
}

static void test_v4_cells_tags_ids(void **state)
{
    (void)state;
    nb_diags diags = NB_DIAGS_INIT;
    nb_notebook *nb = read_text(
        "{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {\"kernelspec\": {\"name\": \"python3\"}},"
        " \"cells\": ["
        "  {\"cell_type\": \"markdown\", \"id\": \"m1\", \"metadata\": {}, \"source\": [\"## Load\\n\", \"data\"]},"
        "  {\"cell_type\": \"code\", \"id\": \"c1\", \"metadata\": {\"tags\": [\"block:load\", \"skip\"]},"
        "   \"outputs\": [], \"execution_count\": 3, \"source\": \"x = 1\\r\\ny = 2\\r\\n\"},"
        "  {\"cell_type\": \"raw\", \"metadata\": {}, \"source\": []}]}",
        &diags);
    assert_non_null(nb);
    assert_int_equal(diags.len, 0);
    assert_int_equal(nb->nbformat, 4);
    assert_int_equal(nb->nbformat_minor, 5);
    assert_string_equal(nb->language, "python");
    assert_string_equal(nb->kernel_name, "python3");
    assert_int_equal(nb->ncells, 3);
    assert_int_equal(nb->cells[0].type, NB_CELL_MARKDOWN);
    assert_string_equal(nb->cells[0].source, "## Load\ndata");
    assert_string_equal(nb->cells[0].id, "m1");
    assert_int_equal(nb->cells[1].number, 2);
    assert_string_equal(nb->cells[1].source, "x = 1\ny = 2\n");
    assert_int_equal(nb->cells[1].source_len, 12);
    assert_int_equal(nb->cells[1].ntags, 2);
    assert_string_equal(nb->cells[1].tags[0], "block:load");
    assert_string_equal(nb->cells[1].tags[1], "skip");
    assert_int_equal(nb->cells[2].type, NB_CELL_RAW);
    assert_string_equal(nb->cells[2].source, "");
    assert_null(nb->cells[2].id);
    assert_null(nb->json);
    nb_notebook_free(nb);
    nb_diags_release(&diags);
}

static void test_v3_upgrade(void **state)
{
    (void)state;
    nb_diags diags = NB_DIAGS_INIT;
    nb_notebook *nb = read_text(
        "{\"nbformat\": 3, \"nbformat_minor\": 0, \"metadata\": {\"name\": \"n\"}, \"worksheets\": ["
        " {\"cells\": [{\"cell_type\": \"heading\", \"level\": 2, \"metadata\": {},"
        "              \"source\": [\"Load\\n\", \"the data\"]},"
        "             {\"cell_type\": \"code\", \"input\": [\"a = 1\\n\", \"b = 2\"],"
        "              \"language\": \"python\", \"metadata\": {}, \"outputs\": []}]},"
        " {\"cells\": [{\"cell_type\": \"code\", \"input\": \"c = a\", \"metadata\": {}, \"outputs\": []}]}]}",
        &diags);
    assert_non_null(nb);
    assert_int_equal(nb->nbformat, 3);
    assert_int_equal(nb->ncells, 3);
    assert_int_equal(nb->cells[0].type, NB_CELL_MARKDOWN);
    assert_string_equal(nb->cells[0].source, "## Load the data");
    assert_string_equal(nb->cells[1].source, "a = 1\nb = 2");
    assert_string_equal(nb->cells[2].source, "c = a");
    assert_int_equal(nb->cells[2].number, 3);
    assert_string_equal(nb->language, "python");
    nb_notebook_free(nb);
    nb_diags_release(&diags);
}

static void test_language_detection(void **state)
{
    (void)state;
    static const struct {
        const char *metadata, *language;
        bool python;
    } cases[] = {
        { "{\"kernelspec\": {\"language\": \"R\", \"name\": \"ir\"}}", "r", false },
        { "{\"language_info\": {\"name\": \"julia\"}}", "julia", false },
        { "{\"kernelspec\": {\"name\": \"python2\"}}", "python", true },
        { "{}", "unknown", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"nbformat\": 4, \"nbformat_minor\": 2, \"metadata\": %s, \"cells\": []}",
                 cases[i].metadata);
        nb_diags diags = NB_DIAGS_INIT;
        nb_notebook *nb = read_text(json, &diags);
        assert_non_null(nb);
        assert_string_equal(nb->language, cases[i].language);
        assert_int_equal(nb_notebook_is_python(nb), cases[i].python);
        nb_notebook_free(nb);
        nb_diags_release(&diags);
    }
}

static void test_keep_json(void **state)
{
    (void)state;
    nb_diags diags = NB_DIAGS_INIT;
    const char *json = "{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}, \"cells\": []}";
    nb_read_opts opts = { .keep_json = true };
    nb_notebook *nb = nb_notebook_read_mem("t.ipynb", json, strlen(json), &opts, &diags);
    assert_non_null(nb);
    assert_non_null(nb->json);
    assert_true(json_is_object(nb->json));
    nb_notebook_free(nb);
    nb_diags_release(&diags);
}

/* Each malformed input gives exactly one error with the expected code and position. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *code;
        int cell, line, col;
    } cases[] = {
        { "", 0, "invalid-json", 0, 0, 0 },
        { "{\"nbformat\": 4,\n \"cells\": [}", 0, "invalid-json", 0, 2, 12 },
        { "\"just a string\"", 0, "not-a-notebook", 0, 0, 0 },
        { "{\"cells\": []}", 0, "not-a-notebook", 0, 0, 0 },
        { "{\"nbformat\": 6, \"cells\": []}", 0, "unsupported-nbformat", 0, 0, 0 },
        { "{\"nbformat\": 4, \"nbformat_minor\": 5, \"cells\": [1]}", 0, "bad-cell", 1, 0, 0 },
        { "{\"nbformat\": 4, \"nbformat_minor\": 5, \"cells\": [{\"cell_type\": \"code\"}]}", 0,
          "bad-cell", 1, 0, 0 },
        { "{\"nbformat\": 4,\n\"x\": \"a\xff\"}", 0, "invalid-utf8", 0, 2, 8 },
        { "{\"nbformat\": 4,\n\"x\": \"a\0\"}", 24, "nul-byte", 0, 2, 8 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_diags diags = NB_DIAGS_INIT;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        nb_notebook *nb = nb_notebook_read_mem("t.ipynb", cases[i].text, len, NULL, &diags);
        assert_null(nb);
        assert_int_equal(diags.errors, 1);
        assert_string_equal(diags.items[0].code, cases[i].code);
        assert_int_equal(diags.items[0].loc.cell, cases[i].cell);
        assert_int_equal(diags.items[0].loc.line, cases[i].line);
        assert_int_equal(diags.items[0].loc.col, cases[i].col);
        nb_diags_release(&diags);
    }
}

static void test_size_limit(void **state)
{
    (void)state;
    nb_diags diags = NB_DIAGS_INIT;
    const char *json = "{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {}, \"cells\": []}";
    nb_read_opts opts = { .max_bytes = 10 };
    assert_null(nb_notebook_read_mem("t.ipynb", json, strlen(json), &opts, &diags));
    assert_string_equal(diags.items[0].code, "too-large");
    nb_diags_release(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_cells_tags_ids),
        cmocka_unit_test(test_v3_upgrade),
        cmocka_unit_test(test_language_detection),
        cmocka_unit_test(test_keep_json),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
