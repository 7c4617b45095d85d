#define _POSIX_C_SOURCE 200809L /* mkstemp, ftruncate, pread */

/* The shared pieces: nb_buf, the pool, the name interner, the escaping layer and the
 * diagnostics renderer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/alloc.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/names.h"
#include "nb2pipe/text.h"
#include "nb2pipe/writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_buf(void **state)
{
    (void)state;
    nb_buf b = NB_BUF_INIT;
    assert_string_equal(b.data, "");
    nb_buf_puts(&b, "abc");
    nb_buf_putc(&b, '-');
    nb_buf_printf(&b, "%d/%s", 42, "x");
    assert_string_equal(b.data, "abc-42/x");
    for (int i = 0; i < 1000; i++)
        nb_buf_printf(&b, "%0300d", i); /* longer than printf's stack buffer */
    assert_int_equal(b.len, 8 + 300 * 1000);
    assert_int_equal(b.data[b.len], '\0');
    nb_buf_truncate(&b, 3);
    assert_string_equal(b.data, "abc");
    nb_buf_pad(&b, '#', 2);
    assert_true(nb_buf_equals(&b, "abc##", 5));
    size_t len;
    char *s = nb_buf_detach(&b, &len);
    assert_string_equal(s, "abc##");
    assert_int_equal(len, 5);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    free(s);
    nb_buf_release(&b);
}

static void test_pool(void **state)
{
    (void)state;
    nb_pool pool = NB_POOL_INIT;
    char *small = nb_pool_strdup(&pool, "hello");
    char *big = nb_pool_alloc(&pool, 200000); /* a block of its own */
    memset(big, 'x', 200000);
    char *after = nb_pool_strdup(&pool, "after");
    assert_string_equal(small, "hello");
    assert_string_equal(after, "after");
    assert_null(nb_pool_memdup(&pool, small, 0, 1));
    nb_pool_release(&pool);
    assert_null(pool.head);
}

static void test_names(void **state)
{
    (void)state;
    nb_names *names = nb_names_new();
    nb_name a = nb_names_intern(names, "alpha", 5);
    nb_name b = nb_names_intern(names, "beta", 4);
    assert_int_not_equal(a, NB_NO_NAME);
    assert_int_not_equal(a, b);
    assert_int_equal(nb_names_intern(names, "alphabet", 5), a);
    assert_int_equal(nb_names_find(names, "beta", 4), b);
    assert_int_equal(nb_names_find(names, "gamma", 5), NB_NO_NAME);
    char key[32];
    for (int i = 0; i < 5000; i++) { /* forces several rehashes */
        int n = snprintf(key, sizeof key, "name%d", i);
        nb_names_intern(names, key, (size_t)n);
    }
    assert_int_equal(nb_names_count(names), 5002);
    assert_string_equal(nb_names_str(names, a), "alpha");
    assert_int_equal(nb_names_find(names, "name4999", 8), 5002);
    nb_names_free(names);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(nb_utf8_check("caf\xc3\xa9", 5), 5);
    assert_int_equal(nb_utf8_check("caf\xe9!", 5), 3);
    assert_int_equal(nb_utf8_check("\xed\xa0\x80", 3), 0);     /* a surrogate */
    assert_int_equal(nb_utf8_check("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(nb_utf8_check("\xf4\x90\x80\x80", 4), 0); /* beyond U+10FFFF */
    int line, col;
    nb_text_position("ab\ncd\xc3\xa9" "f", 7, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 4);
}

static void test_writer(void **state)
{
    (void)state;
    nb_buf b = NB_BUF_INIT;
    nb_write_py_string(&b, "a\"b\\c\nd\x01{}", 10);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\x01{}\"");
    nb_buf_reset(&b);
    nb_write_py_fstring_text(&b, "{x}'\"", 5, '"');
    assert_string_equal(b.data, "{{x}}'\\\"");
    nb_buf_reset(&b);
    nb_write_sh_word(&b, "steps/a_b.py", 12);
    nb_buf_putc(&b, ' ');
    nb_write_sh_word(&b, "it's $(x)", 9);
    nb_buf_putc(&b, ' ');
    nb_write_sh_word(&b, "", 0);
    assert_string_equal(b.data, "steps/a_b.py 'it'\\''s $(x)' ''");
    nb_buf_reset(&b);
    nb_write_dot_string(&b, "a\"b\nc", 5);
    assert_string_equal(b.data, "\"a\\\"b\\nc\"");
    nb_buf_release(&b);
}

static void test_diag_text(void **state)
{
    (void)state;
    nb_diags d = NB_DIAGS_INIT;
    nb_loc loc = { "nb.ipynb", 3, 2, 5 };
    nb_diag *diag = nb_diag_add(&d, NB_ERROR, "undefined-name", loc, "'%s' is not defined", "df\x1b[31m");
    nb_diag_set_source(diag, "first\nx = df + 1\n", 17);
    nb_diag_add(&d, NB_WARNING, "w", (nb_loc){ "nb.ipynb", 0, 0, 0 }, "whole file");
    nb_buf out = NB_BUF_INIT;
    nb_diags_render_text(&d, &out, false);
    assert_string_equal(out.data,
                        "nb.ipynb:cell 3:2:5: error: 'df\\x1b[31m' is not defined [undefined-name]\n"
                        "    2 | x = df + 1\n"
                        "      |     ^\n"
                        "nb.ipynb: warning: whole file [w]\n");
    assert_int_equal(d.errors, 1);
    assert_int_equal(d.warnings, 1);
    json_t *j = nb_diags_to_json(&d);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "code")),
                        "undefined-name");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "column")), 5);
    assert_true(json_is_null(json_object_get(json_array_get(j, 1), "cell")));
    json_decref(j);
    /* line and paragraph separators end a YAML comment; bidi overrides reorder text;
     * C1 controls drive terminals: all shown as escapes (é stays as it is) */
    nb_buf_reset(&out);
    const char odd[] = "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xae" "d\xe2\x81\xa6"
                       "e\xc2\x85" "f\xc3\xa9";
    nb_buf_add_printable(&out, odd, sizeof odd - 1);
    assert_string_equal(out.data, "a\\u2028b\\u2029c\\u202ed\\u2066e\\u0085f\xc3\xa9");
    nb_buf_release(&out);
    nb_diags_release(&d);
}

static void test_seal(void **state)
{
    (void)state;
    nb_fileset fs;
    nb_fileset_init(&fs);
    nb_buf_puts(nb_fileset_add(&fs, "a.py"), "# generated " NB_SEAL_PLACEHOLDER "\nx = 1\n");
    nb_buf_puts(nb_fileset_add(&fs, "plain.txt"), "no seal here\n");
    nb_fileset_seal(&fs);
    const nb_buf *a = &fs.files[0].data;
    assert_null(strstr(a->data, NB_SEAL_PLACEHOLDER));
    assert_true(nb_seal_intact(a->data, a->len));
    assert_false(nb_seal_intact(fs.files[1].data.data, fs.files[1].data.len));
    char *edited = nb_xstrdup(a->data);
    edited[a->len - 2] = '2'; /* x = 2 */
    assert_false(nb_seal_intact(edited, a->len));
    free(edited);
    assert_true(nb_path_is_safe("steps/a.py"));
    assert_false(nb_path_is_safe("../a.py"));
    assert_false(nb_path_is_safe("/etc/passwd"));
    assert_false(nb_path_is_safe("steps//a.py"));
    assert_false(nb_path_is_safe("steps/./a.py"));
    assert_false(nb_path_is_safe("a\nb"));
    /* Windows device names, alone or before a dot, in any case */
    assert_false(nb_path_is_safe("argo/con.yaml"));
    assert_false(nb_path_is_safe("dags/LPT9.txt.py"));
    assert_false(nb_path_is_safe("Aux/a.py"));
    assert_true(nb_path_is_safe("steps/console.py"));
    assert_true(nb_path_is_safe("steps/com10.py"));
    assert_true(nb_path_is_safe("steps/com.py"));
    assert_true(nb_name_is_device("NUL"));
    assert_false(nb_name_is_device("nulls"));
    nb_buf name = NB_BUF_INIT;
    nb_buf_add_file_name(&name, "con", ".yaml");
    nb_buf_add_file_name(&name, " LPT1.txt", ".py");
    nb_buf_add_file_name(&name, "LPT1.txt", ".py");
    assert_string_equal(name.data, "con_.yaml LPT1.txt.pyLPT1_.txt.py");
    nb_buf_release(&name);
    char *rel = nb_path_relative("/work/main/fixtures/titanic", "/work/main/fixtures");
    assert_string_equal(rel, "..");
    free(rel);
    rel = nb_path_relative("/x/ab", "/x/abc/d");
    assert_string_equal(rel, "../abc/d");
    free(rel);
    nb_fileset_release(&fs);
}

/* A file truncated by another process while it is mapped: touching the lost pages must
 * end the process with exit 2 and a message naming the file, not a SIGBUS crash. */
static void test_file_view_truncated(void **state)
{
    (void)state;
    char path[] = "/tmp/nb2pipe-view-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    long page = sysconf(_SC_PAGESIZE);
    size_t size = 3 * (size_t)page + 10; /* not a whole number of pages: it is mapped */
    char *bytes = malloc(size);
    memset(bytes, 'x', size);
    assert_int_equal(write(fd, bytes, size), (ssize_t)size);
    free(bytes);

    nb_file_view view, second;
    assert_int_equal(nb_file_view_open(&view, path, size + 1), 0);
    assert_int_equal(view.mapped, size);
    /* only one mapping is guarded: a second view of the same file is read instead */
    assert_int_equal(nb_file_view_open(&second, path, size + 1), 0);
    assert_int_equal(second.mapped, 0);
    assert_int_equal(second.len, size);
    assert_memory_equal(second.data, view.data, size);
    nb_file_view_release(&second);

    char errors[] = "/tmp/nb2pipe-view-err-XXXXXX";
    int err_fd = mkstemp(errors);
    assert_true(err_fd >= 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(err_fd, STDERR_FILENO);
        if (ftruncate(fd, 10) != 0)
            _exit(3);
        volatile char last = view.data[size - 1]; /* faults: past the new end */
        (void)last;
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    char message[1024] = "";
    ssize_t n = pread(err_fd, message, sizeof message - 1, 0);
    assert_true(n > 0);
    assert_non_null(strstr(message, path));
    assert_non_null(strstr(message, "[io-error]"));
    nb_file_view_release(&view);

    /* released: the next view is mapped and guarded again (the file now has 10 bytes) */
    assert_int_equal(nb_file_view_open(&view, path, size + 1), 0);
    assert_int_equal(view.mapped, 10);
    assert_int_equal(view.data[10], '\0');
    nb_file_view_release(&view);
    close(fd);
    close(err_fd);
    unlink(path);
    unlink(errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),       cmocka_unit_test(test_pool),
        cmocka_unit_test(test_names),     cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_writer),    cmocka_unit_test(test_diag_text),
        cmocka_unit_test(test_seal),      cmocka_unit_test(test_file_view_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
