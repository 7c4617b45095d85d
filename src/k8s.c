#include "nb2pipe/k8s.h"

#include <stdlib.h>
#include <string.h>

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void nb_k8s_name(const char *text, size_t max, nb_buf *out)
{
    size_t start = out->len;
    bool dash = false;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && out->len > start)
                nb_buf_putc(out, '-');
            dash = false;
            nb_buf_putc(out, c);
        } else {
            dash = true;
        }
        if (out->len - start >= max)
            break;
    }
    if (out->len - start > max)
        nb_buf_truncate(out, start + max);
    while (out->len > start && out->data[out->len - 1] == '-')
        nb_buf_truncate(out, out->len - 1);
    if (out->len == start)
        nb_buf_puts(out, "pipeline");
}

/* The name part of a key and a non-empty label value share this syntax. */
static bool name_part_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* A DNS-1123 subdomain: dot-separated lower-case labels, at most 253 characters. */
static bool dns_subdomain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* '.' and '-' only inside a label: not first or last, not next to a '.' */
        bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        bool lower_alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if ((c == '.' || c == '-') ? edge : !lower_alnum)
            return false;
    }
    return true;
}

bool nb_k8s_key_ok(const char *key)
{
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    if (slash && (strchr(name, '/') || !dns_subdomain_ok(key, (size_t)(slash - key))))
        return false;
    return name_part_ok(name, strlen(name));
}

bool nb_k8s_label_value_ok(const char *value)
{
    return *value == '\0' || name_part_ok(value, strlen(value));
}

/* ---- quantities ---------------------------------------------------------------------- */

typedef struct suffix {
    const char *text;
    uint64_t mul, div; /* base units = number * mul / div */
} suffix;

static const suffix suffixes[] = {
    { "", 1, 1 },
    { "m", 1, 1000 },
    { "k", 1000ULL, 1 },
    { "M", 1000000ULL, 1 },
    { "G", 1000000000ULL, 1 },
    { "T", 1000000000000ULL, 1 },
    { "P", 1000000000000000ULL, 1 },
    { "E", 1000000000000000000ULL, 1 },
    { "Ki", 1ULL << 10, 1 },
    { "Mi", 1ULL << 20, 1 },
    { "Gi", 1ULL << 30, 1 },
    { "Ti", 1ULL << 40, 1 },
    { "Pi", 1ULL << 50, 1 },
    { "Ei", 1ULL << 60, 1 },
};

/* The suffix after QUANTITY's number, or NULL when QUANTITY is not nb_quantity_ok. */
static const suffix *quantity_suffix(const char *quantity)
{
    size_t digits = strspn(quantity, "0123456789");
    const char *p = quantity + digits;
    if (*p == '.') {
        size_t fraction = strspn(p + 1, "0123456789");
        digits += fraction;
        p += 1 + fraction;
    }
    if (digits == 0)
        return NULL;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (strcmp(p, suffixes[i].text) == 0)
            return &suffixes[i];
    return NULL;
}

bool nb_quantity_ok(const char *quantity)
{
    return quantity_suffix(quantity) != NULL;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

bool nb_quantity_ceil(const char *quantity, uint64_t unit, uint64_t *out)
{
    const suffix *sfx = quantity_suffix(quantity);
    if (!sfx || unit == 0)
        return false;
    /* the number as the fraction num/den */
    uint64_t num = 0, den = 1;
    bool fraction = false;
    for (const char *p = quantity; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            fraction = true;
            continue;
        }
        if (num > (UINT64_MAX - 9) / 10 || (fraction && den > UINT64_MAX / 10))
            return false;
        num = num * 10 + (uint64_t)(*p - '0');
        if (fraction)
            den *= 10;
    }
    uint64_t g = gcd(num, den);
    num /= g;
    den /= g;
    /* num * mul / (den * div * unit), reduced before multiplying so that big but
     * representable results do not overflow on the way */
    uint64_t mul = sfx->mul, divs[] = { sfx->div, unit };
    for (size_t d = 0; d < 2; d++) {
        g = gcd(num, divs[d]);
        num /= g;
        divs[d] /= g;
        g = gcd(mul, divs[d]);
        mul /= g;
        divs[d] /= g;
        if (den > UINT64_MAX / divs[d])
            return false;
        den *= divs[d];
    }
    g = gcd(mul, den);
    mul /= g;
    den /= g;
    if (mul && num > UINT64_MAX / mul)
        return false;
    num *= mul;
    *out = num / den + (num % den != 0);
    return true;
}

double nb_quantity_value(const char *quantity)
{
    const suffix *sfx = quantity_suffix(quantity);
    double number = strtod(quantity, NULL);
    return sfx ? number * (double)sfx->mul / (double)sfx->div : number;
}
