/* nb_pydist: the standard-library and import-to-distribution tables. */
#define _POSIX_C_SOURCE 200809L /* popen */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/pydist.h"

#include <stdio.h>
#include <string.h>

/* The tables are read through nb_pydist_*_count/name/entry, not copied: the binary
 * searches find every entry only when the tables are sorted, which the tests check, and
 * the standard-library list is compared with the installed Python's own. */

static bool stdlib(const char *name)
{
    return nb_pydist_is_stdlib(name, strlen(name));
}

static const char *dist(const char *name)
{
    return nb_pydist_distribution(name, strlen(name));
}

/* Whether the first LEN bytes of NAME are in the table, by linear search. */
static bool listed(const char *name, size_t len)
{
    for (size_t i = 0; i < nb_pydist_stdlib_count(); i++) {
        const char *entry = nb_pydist_stdlib_name(i);
        if (strlen(entry) == len && !memcmp(entry, name, len))
            return true;
    }
    return false;
}

/* The table's distribution for the first LEN bytes of NAME, by linear search. */
static const char *mapped(const char *name, size_t len)
{
    for (size_t i = 0; i < nb_pydist_distribution_count(); i++) {
        const char *module, *distribution;
        nb_pydist_distribution_entry(i, &module, &distribution);
        if (strlen(module) == len && !memcmp(module, name, len))
            return distribution;
    }
    return NULL;
}

static void test_stdlib(void **state)
{
    (void)state;
    const char *yes[] = { "os", "sys", "json", "collections", "typing", "__future__",
                          "_thread", "asyncore", "distutils", "imp", "lib2to3", "telnetlib",
                          "tomllib", "cProfile", "binhex", "_pyrepl", "zoneinfo", "abc" };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!stdlib(yes[i]))
            fail_msg("%s should be stdlib", yes[i]);
    }
    const char *no[] = { "numpy", "pandas", "sklearn", "yaml", "requests", "Os", "OS",
                         "o", "oss", "__main__", "_", "zzz", "AAA", "not_a_module" };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (stdlib(no[i]))
            fail_msg("%s should not be stdlib", no[i]);
    }
}

static void test_stdlib_length(void **state)
{
    (void)state;
    assert_true(nb_pydist_is_stdlib("os.path", 2));
    assert_true(nb_pydist_is_stdlib("xml.etree.ElementTree", 3));
    assert_false(nb_pydist_is_stdlib("os.path", 3));
    assert_false(nb_pydist_is_stdlib("osx", 3));
    assert_true(nb_pydist_is_stdlib("osx", 2));
    assert_false(nb_pydist_is_stdlib("sys", 0));
    assert_false(nb_pydist_is_stdlib(NULL, 0));
    assert_false(nb_pydist_is_stdlib("os\0", 3)); /* a NUL byte is part of the name */
    assert_false(nb_pydist_is_stdlib("o\0", 2));
}

static void test_distribution(void **state)
{
    (void)state;
    assert_string_equal(dist("sklearn"), "scikit-learn");
    assert_string_equal(dist("cv2"), "opencv-python");
    assert_string_equal(dist("PIL"), "Pillow");
    assert_string_equal(dist("yaml"), "PyYAML");
    assert_string_equal(dist("bs4"), "beautifulsoup4");
    assert_string_equal(dist("dateutil"), "python-dateutil");
    assert_string_equal(dist("Bio"), "biopython"); /* first entry */
    assert_string_equal(dist("zmq"), "pyzmq"); /* last entry */
    assert_null(dist("numpy"));
    assert_null(dist("pandas"));
    assert_null(dist("not_a_module"));
    assert_null(dist("os"));
    assert_null(dist("pil")); /* case matters */
    assert_null(dist("Levenshtein")); /* same name as its distribution */
}

static void test_distribution_length(void **state)
{
    (void)state;
    assert_null(dist("sklearnx"));
    assert_null(dist("skl"));
    assert_null(dist("sklearn_"));
    assert_string_equal(nb_pydist_distribution("sklearnx", 7), "scikit-learn");
    assert_string_equal(nb_pydist_distribution("sklearn.linear_model", 7), "scikit-learn");
    assert_null(nb_pydist_distribution("sklearn", 6));
    assert_null(nb_pydist_distribution("sklearn", 0));
    assert_null(nb_pydist_distribution(NULL, 0));
    assert_null(nb_pydist_distribution("cv2\0", 4));
    /* sklearn_crfsuite follows sklearn in the table: neither hides the other */
    assert_string_equal(dist("sklearn_crfsuite"), "sklearn-crfsuite");
    assert_string_equal(nb_pydist_distribution("sklearn_crfsuite", 7), "scikit-learn");
}

static void test_every_stdlib_name(void **state)
{
    (void)state;
    size_t n = nb_pydist_stdlib_count();
    assert_true(n > 300);
    for (size_t i = 0; i < n; i++) {
        const char *name = nb_pydist_stdlib_name(i);
        if (i && strcmp(nb_pydist_stdlib_name(i - 1), name) >= 0)
            fail_msg("table not strictly sorted at %s", name);
        if (!stdlib(name))
            fail_msg("%s not found", name);
        if (dist(name))
            fail_msg("stdlib module %s maps to a distribution", name);
        /* one byte shorter: found only when that is a module too */
        size_t len = strlen(name) - 1;
        if (nb_pydist_is_stdlib(name, len) != listed(name, len))
            fail_msg("lookup of the first %zu bytes of %s is wrong", len, name);
    }
}

static void test_every_distribution(void **state)
{
    (void)state;
    size_t n = nb_pydist_distribution_count();
    assert_true(n >= 80);
    const char *previous = "";
    for (size_t i = 0; i < n; i++) {
        const char *module, *distribution;
        nb_pydist_distribution_entry(i, &module, &distribution);
        if (strcmp(previous, module) >= 0)
            fail_msg("table not strictly sorted at %s", module);
        previous = module;
        const char *got = dist(module);
        if (!got || strcmp(got, distribution) != 0)
            fail_msg("%s -> %s, expected %s", module, got ? got : "NULL", distribution);
        if (!strcmp(module, distribution))
            fail_msg("%s maps to itself", module);
        if (stdlib(module))
            fail_msg("%s is stdlib", module);
        /* one byte shorter: "gi" of "gin" and "git" is found, "sklear" of "sklearn" not */
        size_t len = strlen(module) - 1;
        const char *want = mapped(module, len);
        got = nb_pydist_distribution(module, len);
        if (want ? !got || strcmp(got, want) != 0 : got != NULL)
            fail_msg("lookup of the first %zu bytes of %s is wrong", len, module);
    }
}

/* The oracle: every module the installed Python (3.10+) lists as its standard library
 * is one for nb2pipe too. */
static void test_installed_python_stdlib(void **state)
{
    (void)state;
    FILE *p = popen("/usr/bin/python3 -c 'import sys; print(*sorted(sys.stdlib_module_names), "
                    "sep=chr(10))' 2>/dev/null",
                    "r");
    assert_non_null(p);
    char line[256];
    size_t checked = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (!stdlib(line))
            fail_msg("the installed Python's standard library has %s; nb2pipe's table does not", line);
        checked++;
    }
    assert_int_equal(pclose(p), 0);
    assert_true(checked > 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdlib),
        cmocka_unit_test(test_stdlib_length),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_distribution_length),
        cmocka_unit_test(test_every_stdlib_name),
        cmocka_unit_test(test_every_distribution),
        cmocka_unit_test(test_installed_python_stdlib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
