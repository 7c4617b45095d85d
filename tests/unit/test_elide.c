/* Outputs cut from a notebook's text before parsing (elide.c): what is cut, what makes
 * the skimmer give up (so that the reader parses the whole text and reports exactly),
 * and that the reader's model and clean's outputs are the same either way. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/clean.h"
#include "nb2pipe/elide.h"
#include "nb2pipe/notebook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_OUT(outputs)                                                                  \
    "{\"cell_type\": \"code\", \"execution_count\": 1, \"metadata\": {}, \"outputs\": " outputs \
    ", \"source\": \"x = 1\"}"
#define NOTEBOOK(cells)                                                                    \
    "{\"cells\": [" cells "], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}"

static bool elide(const char *text, nb_elided *out)
{
    return nb_elide_outputs(text, strlen(text), out);
}

static void test_cuts_outputs(void **state)
{
    (void)state;
    const char *text = NOTEBOOK(CELL_OUT("[{\"output_type\": \"stream\", \"text\": [\"a\\u00e9\\n\"]}]")
                                ", {\"cell_type\": \"markdown\", \"metadata\": {}, \"source\": \"# t\"}, "
                                CELL_OUT("[]"));
    nb_elided e;
    assert_true(elide(text, &e));
    assert_int_equal(e.ncells, 3);
    assert_true(e.end[0] > e.start[0]);
    assert_int_equal(text[e.start[0]], '[');
    assert_int_equal(text[e.end[0] - 1], ']');
    assert_int_equal(e.start[1], e.end[1]); /* markdown: nothing to cut */
    assert_int_equal(e.start[2], e.end[2]); /* [] is not worth cutting */
    assert_non_null(strstr(e.text, "\"outputs\": [], \"source\""));
    assert_null(strstr(e.text, "stream"));
    nb_elided_release(&e);
}

static void test_gives_up(void **state)
{
    (void)state;
    static const char *const doubtful[] = {
        /* invalid JSON in or out of outputs */
        NOTEBOOK(CELL_OUT("[{\"a\": 1,}]")),
        NOTEBOOK(CELL_OUT("[\"tab\there\"]")),
        NOTEBOOK(CELL_OUT("[\"\\x\"]")),
        NOTEBOOK(CELL_OUT("[01]")),
        NOTEBOOK(CELL_OUT("[1]")) " x",
        "{\"cells\": [" CELL_OUT("[1]") "]",
        /* what jansson may refuse although it is JSON */
        NOTEBOOK(CELL_OUT("[\"\\ud800\"]")),
        NOTEBOOK(CELL_OUT("[\"\\udc00\\ud800\"]")),
        NOTEBOOK(CELL_OUT("[{\"a\\u0000\": 1}]")),
        NOTEBOOK(CELL_OUT("[12345678901234567890]")),
        NOTEBOOK(CELL_OUT("[1e400]")),
        /* which value jansson keeps is not for the skimmer to guess */
        "{\"cells\": [], \"cells\": [" CELL_OUT("[1]") "], \"nbformat\": 4}",
        NOTEBOOK("{\"outputs\": [1], \"outputs\": [2]}"),
        NOTEBOOK("{\"outp\\u0075ts\": [1], \"outputs\": [2]}"),
        /* nothing to cut */
        NOTEBOOK(CELL_OUT("[]")),
        "[" CELL_OUT("[1]") "]",
    };
    for (size_t i = 0; i < sizeof doubtful / sizeof doubtful[0]; i++) {
        nb_elided e;
        if (elide(doubtful[i], &e)) {
            print_error("cut although doubtful: %s\n", doubtful[i]);
            fail();
        }
    }
    nb_elided e;
    assert_true(elide(NOTEBOOK(CELL_OUT("[\"\\ud83d\\ude00 \\u0000\", -0.5e-07, 123456789012345678,"
                                        " true, false, null, {}, [[]]]")), &e));
    nb_elided_release(&e);
}

/* Reads TEXT for clean (keeping the JSON), with or without cutting, and writes the
 * cleaned notebook. */
static char *clean_text(const char *text, bool cut, const nb_clean_opts *opts)
{
    nb_diags diags = NB_DIAGS_INIT;
    nb_read_opts ro = { .keep_json = true, .elide_outputs = cut };
    nb_notebook *nb = nb_notebook_read_mem("t.ipynb", text, strlen(text), &ro, &diags);
    assert_non_null(nb);
    assert_true(cut ? nb->nelided > 0 : nb->nelided == 0);
    nb_buf out = NB_BUF_INIT;
    assert_int_equal(nb_clean_notebook(nb, text, opts, &diags, &out), 0);
    nb_notebook_free(nb);
    nb_diags_release(&diags);
    return nb_buf_detach(&out, NULL);
}

static void test_clean_same_either_way(void **state)
{
    (void)state;
    const char *text =
        "\xEF\xBB\xBF"
        "{\"cells\": ["
        CELL_OUT("[{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"gone\\n\"]}]") ", "
        "{\"cell_type\": \"code\", \"execution_count\": 2, \"metadata\": {\"tags\": [\"keep_output\"]},"
        " \"outputs\": [{\"data\": {\"text/plain\": [\"kept\\n\", \"too\"]}, \"execution_count\": 2,"
        " \"metadata\": {}, \"output_type\": \"execute_result\"}], \"source\": \"y\"}, "
        "{\"cell_type\": \"code\", \"execution_count\": 3, \"metadata\": {\"init_cell\": true},"
        " \"outputs\": [{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": \"init\\n\"}],"
        " \"source\": \"z\"}],"
        " \"metadata\": {\"kernelspec\": {\"language\": \"python\"}}, \"nbformat\": 4, \"nbformat_minor\": 5}";
    nb_clean_opts defaults = { 0 }, keep_count = { .keep_count = true };
    const nb_clean_opts *all[] = { &defaults, &keep_count };
    for (size_t i = 0; i < 2; i++) {
        char *full = clean_text(text, false, all[i]);
        char *cut = clean_text(text, true, all[i]);
        assert_string_equal(cut, full);
        assert_non_null(strstr(cut, "kept"));
        assert_non_null(strstr(cut, "init"));
        assert_null(strstr(cut, "gone"));
        free(full);
        free(cut);
    }
}

/* Without keep_json the reader always cuts; its model is the same. */
static void test_reader_model_same(void **state)
{
    (void)state;
    const char *text = NOTEBOOK(CELL_OUT("[{\"output_type\": \"stream\", \"text\": \"o\"}]"));
    nb_diags diags = NB_DIAGS_INIT;
    nb_notebook *nb = nb_notebook_read_mem("t.ipynb", text, strlen(text), NULL, &diags);
    assert_non_null(nb);
    assert_int_equal(nb->ncells, 1);
    assert_string_equal(nb->cells[0].source, "x = 1");
    assert_null(nb->json);
    assert_int_equal(nb->nelided, 0); /* spans are only kept with the JSON */
    nb_notebook_free(nb);
    /* an error outside the outputs is reported where it is, as before */
    const char *bad = "{\"cells\": [" CELL_OUT("[1]") "], \"nbformat\": 4,, \"x\": 1}";
    assert_null(nb_notebook_read_mem("t.ipynb", bad, strlen(bad), NULL, &diags));
    assert_int_equal(diags.len, 1);
    nb_diags_release(&diags);
}

/* The elided text parses to what json_loadb makes of it: same values, same order. */
static void test_parse_same_as_jansson(void **state)
{
    (void)state;
    static const char *const texts[] = {
        NOTEBOOK(CELL_OUT("[1]")),
        "{\"cells\": [" CELL_OUT("[1]") "], \"metadata\": {\"b\": 1, \"a\": [true, false, null],"
        " \"a\": {\"x\": -0, \"y\": -0.0, \"z\": 1.5e10, \"w\": 123456789012345678, \"v\": 0.1}},"
        " \"s\": \"tab\\t quote\\\" slash\\/ back\\\\ \\b\\f\\n\\r \\u00e9\\u20ac \\ud83d\\ude00 nul\\u0000end\","
        " \"utf8\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"empty\": \"\", \"e\": {}, \"l\": [[], [{}]],"
        " \"long key of more than sixty-four bytes, which takes the other path in the parser\": 1}",
        "  \n{\"cells\": [" CELL_OUT("[1]") ", 7, \"x\", [" CELL_OUT("[2]") "]]}\r\n\t",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        nb_elided e;
        assert_true(elide(texts[i], &e));
        json_error_t err;
        json_t *want = json_loadb(e.text, e.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        json_t *got = nb_elided_parse(&e);
        assert_non_null(want);
        assert_non_null(got);
        char *a = json_dumps(want, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
        char *b = json_dumps(got, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
        assert_string_equal(b, a);
        assert_true(json_equal(want, got));
        free(a);
        free(b);
        json_decref(want);
        json_decref(got);
        nb_elided_release(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuts_outputs),
        cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_clean_same_either_way),
        cmocka_unit_test(test_reader_model_same),
        cmocka_unit_test(test_parse_same_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
