/* Kubernetes' syntax (keys, label values, names) and resource quantities, and the
 * number text parameters are passed as. Expected values are Kubernetes' own rules
 * (apimachinery validation, resource.Quantity) worked out by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/emit.h"
#include "nb2pipe/k8s.h"

#include <stdint.h>
#include <string.h>

static void test_keys(void **state)
{
    (void)state;
    const char *good[] = { "cpu", "memory", "nvidia.com/gpu", "team", "A.b-c_9", "x",
                           "example.com/stage", "a-b.c/d" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!nb_k8s_key_ok(good[i]))
            fail_msg("'%s' should be a key", good[i]);
    const char *bad[] = { "", "bad key", "-x", "x-", "a/b/c", "/x", "x/", "Example.com/x",
                          "a..b/x", "a{{b", "ünï",
                          /* 64 characters */
                          "abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (nb_k8s_key_ok(bad[i]))
            fail_msg("'%s' should not be a key", bad[i]);
}

static void test_label_values(void **state)
{
    (void)state;
    assert_true(nb_k8s_label_value_ok(""));
    assert_true(nb_k8s_label_value_ok("ml-platform"));
    assert_true(nb_k8s_label_value_ok("use.v1_2"));
    assert_true(nb_k8s_label_value_ok(
        "abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc")); /* 63 */
    assert_false(nb_k8s_label_value_ok(
        "abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc")); /* 64 */
    assert_false(nb_k8s_label_value_ok("has space"));
    assert_false(nb_k8s_label_value_ok("x{{y}}"));
    assert_false(nb_k8s_label_value_ok("-x"));
    assert_false(nb_k8s_label_value_ok("a/b"));
}

static void test_names(void **state)
{
    (void)state;
    nb_buf b = NB_BUF_INIT;
    nb_k8s_name("Load_Data", 63, &b);
    assert_string_equal(b.data, "load-data");
    nb_buf_reset(&b);
    nb_k8s_name("__x__y__", 63, &b);
    assert_string_equal(b.data, "x-y");
    nb_buf_reset(&b);
    nb_k8s_name("!!!", 63, &b);
    assert_string_equal(b.data, "pipeline");
    nb_buf_reset(&b);
    nb_k8s_name("abc_def", 4, &b); /* cut at 4, then the trailing '-' goes */
    assert_string_equal(b.data, "abc");
    nb_buf_release(&b);
}

static void test_quantities(void **state)
{
    (void)state;
    const char *good[] = { "1", "500m", "2Gi", "1.5", "0.5", "1k", "3E", "7Ei", ".5", "5." };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!nb_quantity_ok(good[i]))
            fail_msg("'%s' should be a quantity", good[i]);
    /* "K" is not Kubernetes' (only "k"); signs and exponents are not taken */
    const char *bad[] = { "", "1K", "m", ".", "1.2.3", "-1", "+1", "1e3", "2 Gi", "2gi", "1Mb" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (nb_quantity_ok(bad[i]))
            fail_msg("'%s' should not be a quantity", bad[i]);

    struct {
        const char *quantity;
        uint64_t unit, expect;
    } ceil_cases[] = {
        { "500m", 1, 1 },                  /* half a CPU asks for one */
        { "2", 1, 2 },
        { "2Gi", 1ULL << 20, 2048 },       /* MiB */
        { "1G", 1ULL << 20, 954 },         /* 10^9 bytes = 953.67 MiB, rounded up */
        { "1.5Gi", 1ULL << 20, 1536 },
        { "1Ti", 1ULL << 20, 1ULL << 20 },
        { "0", 1, 0 },
        { "16Ei", 1ULL << 20, 16ULL << 40 }, /* 2^64 bytes in MiB fits */
    };
    for (size_t i = 0; i < sizeof ceil_cases / sizeof *ceil_cases; i++) {
        uint64_t got = 0;
        if (!nb_quantity_ceil(ceil_cases[i].quantity, ceil_cases[i].unit, &got))
            fail_msg("'%s' should convert", ceil_cases[i].quantity);
        if (got != ceil_cases[i].expect)
            fail_msg("'%s' / %llu: %llu, expected %llu", ceil_cases[i].quantity,
                     (unsigned long long)ceil_cases[i].unit, (unsigned long long)got,
                     (unsigned long long)ceil_cases[i].expect);
    }
    uint64_t got;
    assert_false(nb_quantity_ceil("16Ei", 1, &got));                  /* 2^64 bytes */
    assert_false(nb_quantity_ceil("99999999999999999999", 1, &got)); /* 10^20 */
    assert_false(nb_quantity_ceil("1K", 1, &got));

    assert_true(nb_quantity_value("500m") == 0.5);
    assert_true(nb_quantity_value("2Gi") == 2147483648.0);
    assert_true(nb_quantity_value("1.5k") == 1500.0);
}

static const char *param_text(nb_value_type type, const char *value, nb_buf *out)
{
    nb_param param = { .name = "P", .type = type, .python = value, .value = value };
    nb_buf_reset(out);
    return nb_emit_param_text(&param, out) ? out->data : NULL;
}

static void test_param_text(void **state)
{
    (void)state;
    nb_buf b = NB_BUF_INIT;
    assert_string_equal(param_text(NB_TYPE_INT, "0x1F", &b), "31");
    assert_string_equal(param_text(NB_TYPE_INT, "0o17", &b), "15");
    assert_string_equal(param_text(NB_TYPE_INT, "0b101", &b), "5");
    assert_string_equal(param_text(NB_TYPE_INT, "- 5", &b), "-5");
    assert_string_equal(param_text(NB_TYPE_INT, "0xFFFF_FFFF_FFFF_FFFF_FFFF", &b),
                        "1208925819614629174706175");
    assert_string_equal(param_text(NB_TYPE_INT, "1_000", &b), "1_000");
    assert_string_equal(param_text(NB_TYPE_FLOAT, "-1.5e3", &b), "-1.5e3");
    assert_string_equal(param_text(NB_TYPE_FLOAT, ".5", &b), ".5");
    assert_string_equal(param_text(NB_TYPE_STRING, "a b", &b), "a b");
    assert_string_equal(param_text(NB_TYPE_BOOL, "True", &b), "True");
    assert_null(param_text(NB_TYPE_INT, "~5", &b));
    assert_null(param_text(NB_TYPE_INT, "0xZZ", &b));
    nb_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),       cmocka_unit_test(test_label_values),
        cmocka_unit_test(test_names),      cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_param_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
