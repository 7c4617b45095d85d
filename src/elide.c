#include "nb2pipe/elide.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/text.h"

#include <jansson.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* A strict JSON skimmer. It accepts only what jansson (with the reader's flags) is sure
 * to accept, so that a notebook it skims parses the same once its outputs are cut;
 * anything doubtful makes it give up, and the reader parses the whole text as before. */

enum { MAX_DEPTH = 512 };  /* jansson allows 2048; deeper outputs are parsed in full */

typedef enum role { OTHER, ROOT, CELLS, CELL } role;

typedef struct skim {
    const char *base, *p, *end;
    nb_buf out;     /* the elided text so far */
    size_t copied;  /* bytes of the original up to here are in OUT (or cut) */
    size_t *start, *stop, ncells, cap;
    bool cells_seen;
} skim;

/* Bytes that end the fast run through a string: quote, backslash, control characters. */
static unsigned char string_stop[256];

static void init_tables(void)
{
    if (string_stop['"'])
        return;
    for (int c = 0; c < 0x20; c++)
        string_stop[c] = 1;
    string_stop['"'] = 1;
    string_stop['\\'] = 1;
}

/* Token helpers shared by the skimmer and the builder: they work on a position *P
 * in text that ends at END. */

static void skip_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t'))
        (*p)++;
}

/* Moves past WORD (true, false, null) when the text at *P spells it. */
static bool skip_word(const char **p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - *p) < n || memcmp(*p, word, n) != 0)
        return false;
    *p += n;
    return true;
}

/* After an array item or object member: 1 when CLOSE ends the container (moved past
 * it), 0 when a comma says another comes (moved past it and the blanks after it), -1
 * for anything else. */
static int after_item(const char **p, const char *end, char close)
{
    skip_ws(p, end);
    if (*p < end && **p == close) {
        (*p)++;
        return 1;
    }
    if (*p == end || **p != ',')
        return -1;
    (*p)++;
    skip_ws(p, end);
    return 0;
}

/* The code unit of a \uXXXX escape at P (pointing at the backslash), or -1. */
static long unicode_escape(const char *p, const char *end)
{
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    long v = 0;
    for (int i = 2; i < 6; i++) {
        int h = nb_hex_digit((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* One escape sequence at s->p (the backslash). Surrogates must come in pairs, and a
 * key may not hold \u0000: jansson refuses both. */
static bool skip_escape(skim *s, bool key)
{
    if (s->end - s->p < 2)
        return false;
    if (strchr("\"\\/bfnrt", s->p[1]) && s->p[1] != '\0') {
        s->p += 2;
        return true;
    }
    long v = unicode_escape(s->p, s->end);
    if (v < 0 || (v == 0 && key) || (v >= 0xDC00 && v <= 0xDFFF))
        return false;
    s->p += 6;
    if (v >= 0xD800 && v <= 0xDBFF) {
        long low = unicode_escape(s->p, s->end);
        if (low < 0xDC00 || low > 0xDFFF)
            return false;
        s->p += 6;
    }
    return true;
}

/* Whether the eight bytes at P may hold a quote, a backslash or a control character
 * (the classic "has a zero byte" bit trick: it never misses one, and a false alarm only
 * sends the caller to its byte loop). */
static bool stop_in_word(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t found = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                     ((w - ones * 0x20) & ~w);
    return (found & highs) != 0;
}

/* The first byte from P on (before END) that is a quote, a backslash or a control
 * character, or END. Sixteen bytes at a time with SSE2 (every x86-64 has it), eight
 * with the bit trick elsewhere; this loop is where a notebook's base64 images go by. */
static const unsigned char *find_string_stop(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x;
        memcpy(&x, p, 16);
        /* x < 0x20 unsigned: max(x, 0x20) != x */
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                                    _mm_xor_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, space), x),
                                                  _mm_set1_epi8(-1)));
        int mask = _mm_movemask_epi8(stop);
        if (mask)
            return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (end - p >= 8 && !stop_in_word(p))
        p += 8;
    while (p < end && !string_stop[*p])
        p++;
    return p;
}

/* A string at s->p (the opening quote). *ESCAPED tells whether it held a backslash. */
static bool skip_string(skim *s, bool key, bool *escaped)
{
    const unsigned char *p = (const unsigned char *)s->p + 1;
    const unsigned char *end = (const unsigned char *)s->end;
    *escaped = false;
    for (;;) {
        p = find_string_stop(p, end);
        if (p == end || *p < 0x20)
            return false;
        if (*p == '"') {
            s->p = (const char *)p + 1;
            return true;
        }
        *escaped = true;
        s->p = (const char *)p;
        if (!skip_escape(s, key))
            return false;
        p = (const unsigned char *)s->p;
    }
}

static size_t skip_digits(skim *s)
{
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return (size_t)(s->p - start);
}

/* A number, refused when jansson could find it out of range: integers of more than 18
 * digits (jansson's json_int_t is 64 bits), reals with exponents of 3 digits or long
 * mantissas. */
static bool skip_number(skim *s)
{
    const char *start = s->p;
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            return false;
    } else if (skip_digits(s) == 0) {
        return false;
    }
    bool real = false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        real = true;
        if (skip_digits(s) == 0)
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        real = true;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        size_t n = skip_digits(s);
        if (n == 0 || n > 2)
            return false;
    }
    size_t len = (size_t)(s->p - start);
    return real ? len <= 40 : len <= 18;
}

static bool skim_value(skim *s, int depth, role r);

/* Records that the cell being read has its outputs from START to s->p, cut out. */
static void cut(skim *s, size_t start)
{
    size_t stop = (size_t)(s->p - s->base);
    nb_buf_add(&s->out, s->base + s->copied, start - s->copied);
    nb_buf_add(&s->out, "[]", 2);
    s->copied = stop;
    s->start[s->ncells - 1] = start;
    s->stop[s->ncells - 1] = stop;
}

/* The value of KEY (raw, LEN bytes) in an object of role R. */
static bool skim_member(skim *s, int depth, role r, const char *key, size_t len, bool *outputs_seen)
{
    if (r == ROOT && len == 5 && memcmp(key, "cells", 5) == 0) {
        if (s->cells_seen)
            return false; /* which one jansson keeps is not ours to guess */
        s->cells_seen = true;
        return skim_value(s, depth, CELLS);
    }
    if (r == CELL && len == 7 && memcmp(key, "outputs", 7) == 0) {
        if (*outputs_seen)
            return false;
        *outputs_seen = true;
        if (s->p < s->end && *s->p == '[') {
            size_t start = (size_t)(s->p - s->base);
            if (!skim_value(s, depth, OTHER))
                return false;
            if ((size_t)(s->p - s->base) - start > 2)
                cut(s, start);
            return true;
        }
    }
    return skim_value(s, depth, OTHER);
}

static bool skim_object(skim *s, int depth, role r)
{
    bool outputs_seen = false;
    s->p++;
    skip_ws(&s->p, s->end);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        if (s->p == s->end || *s->p != '"')
            return false;
        const char *key = s->p + 1;
        bool escaped;
        if (!skip_string(s, true, &escaped))
            return false;
        /* "cells" or "outputs" spelt with escapes would dodge the checks above */
        if (escaped && r != OTHER)
            return false;
        size_t len = (size_t)(s->p - 1 - key);
        skip_ws(&s->p, s->end);
        if (s->p == s->end || *s->p != ':')
            return false;
        s->p++;
        skip_ws(&s->p, s->end);
        if (!skim_member(s, depth, r, key, len, &outputs_seen))
            return false;
        int closed = after_item(&s->p, s->end, '}');
        if (closed != 0)
            return closed == 1;
    }
}

static void add_cell(skim *s)
{
    if (s->ncells == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->start = nb_xrealloc(s->start, s->cap * sizeof *s->start);
        s->stop = nb_xrealloc(s->stop, s->cap * sizeof *s->stop);
    }
    s->start[s->ncells] = s->stop[s->ncells] = 0;
    s->ncells++;
}

static bool skim_array(skim *s, int depth, role r)
{
    s->p++;
    skip_ws(&s->p, s->end);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return true;
    }
    for (;;) {
        if (r == CELLS)
            add_cell(s);
        if (!skim_value(s, depth, r == CELLS ? CELL : OTHER))
            return false;
        int closed = after_item(&s->p, s->end, ']');
        if (closed != 0)
            return closed == 1;
    }
}

/* One value at s->p (no whitespace before it). R is what the value would be in a
 * notebook; a value of another type than R expects is skimmed as OTHER. */
static bool skim_value(skim *s, int depth, role r)
{
    if (depth > MAX_DEPTH || s->p == s->end)
        return false;
    bool escaped;
    switch (*s->p) {
    case '{': return skim_object(s, depth + 1, r == CELLS ? OTHER : r);
    case '[': return skim_array(s, depth + 1, r == CELLS ? CELLS : OTHER);
    case '"': return skip_string(s, false, &escaped);
    case 't': return skip_word(&s->p, s->end, "true");
    case 'f': return skip_word(&s->p, s->end, "false");
    case 'n': return skip_word(&s->p, s->end, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return skip_number(s);
        return false;
    }
}

static void release(skim *s)
{
    nb_buf_release(&s->out);
    free(s->start);
    free(s->stop);
}

bool nb_elide_outputs(const char *data, size_t len, nb_elided *out)
{
    init_tables();
    memset(out, 0, sizeof *out);
    skim s = { .base = data, .p = data, .end = data + len, .out = NB_BUF_INIT };
    skip_ws(&s.p, s.end);
    bool ok = s.p < s.end && *s.p == '{' && skim_value(&s, 0, ROOT);
    skip_ws(&s.p, s.end);
    bool cut_any = false;
    for (size_t i = 0; i < s.ncells; i++)
        cut_any |= s.stop[i] > s.start[i];
    if (!ok || s.p != s.end || !cut_any) {
        release(&s);
        return false;
    }
    nb_buf_add(&s.out, data + s.copied, len - s.copied);
    out->text = nb_buf_detach(&s.out, &out->len);
    out->start = s.start;
    out->end = s.stop;
    out->ncells = s.ncells;
    return true;
}

void nb_elided_release(nb_elided *e)
{
    free(e->text);
    free(e->start);
    free(e->end);
    memset(e, 0, sizeof *e);
}

/* ---- parsing the elided text ------------------------------------------------------- */

/* The elided text is JSON the skimmer has checked, so this parser only builds values;
 * it builds them with the calls jansson's own parser makes, in the same order, so the
 * values are the same. jansson reads a character at a time through several layers and
 * takes about ten times as long. It still stops (NULL) at anything unexpected. */

typedef struct builder {
    const char *p, *end;
    nb_buf scratch; /* decoded strings */
} builder;

static json_t *build_value(builder *b);

/* Decodes the string at b->p (its opening quote) into b->scratch, NUL-terminated;
 * *LEN is its length. Returns false on anything the skimmer should have refused. */
static bool build_string(builder *b, size_t *len)
{
    nb_buf_reset(&b->scratch);
    const unsigned char *p = (const unsigned char *)b->p + 1;
    const unsigned char *end = (const unsigned char *)b->end;
    for (;;) {
        const unsigned char *run = p;
        p = find_string_stop(p, end);
        nb_buf_add(&b->scratch, run, (size_t)(p - run));
        if (p == end || *p < 0x20)
            return false;
        if (*p == '"')
            break;
        if (end - p < 2)
            return false;
        static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *e = p[1] ? strchr(simple, p[1]) : NULL;
        if (e && (e - simple) % 2 == 0) {
            nb_buf_putc(&b->scratch, e[1]);
            p += 2;
            continue;
        }
        long cp = unicode_escape((const char *)p, b->end);
        if (cp < 0)
            return false;
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long low = unicode_escape((const char *)p, b->end);
            if (low < 0xDC00 || low > 0xDFFF)
                return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
        }
        nb_buf_add_utf8(&b->scratch, (unsigned long)cp);
    }
    b->p = (const char *)p + 1;
    *len = b->scratch.len;
    nb_buf_putc(&b->scratch, '\0');
    return true;
}

/* A number as jansson makes it: an integer unless it has a fraction or an exponent. */
static json_t *build_number(builder *b)
{
    const char *start = b->p;
    bool real = false;
    while (b->p < b->end && strchr("+-0123456789.eE", *b->p) && *b->p) {
        real |= *b->p == '.' || *b->p == 'e' || *b->p == 'E';
        b->p++;
    }
    char text[48];
    size_t n = (size_t)(b->p - start);
    if (n == 0 || n >= sizeof text)
        return NULL;
    memcpy(text, start, n);
    text[n] = '\0';
    char *stop;
    if (real) {
        double v = strtod(text, &stop);
        return *stop ? NULL : json_real(v);
    }
    long long v = strtoll(text, &stop, 10);
    return *stop ? NULL : json_integer((json_int_t)v);
}

static json_t *build_object(builder *b)
{
    json_t *obj = json_object();
    b->p++;
    skip_ws(&b->p, b->end);
    if (b->p < b->end && *b->p == '}') {
        b->p++;
        return obj;
    }
    for (;;) {
        size_t len;
        if (b->p == b->end || *b->p != '"' || !build_string(b, &len))
            break;
        /* the value reuses the scratch buffer: keep the key apart (mostly short) */
        char small[64];
        char *key = len < sizeof small ? memcpy(small, b->scratch.data, len + 1)
                                       : nb_xstrndup(b->scratch.data, len);
        skip_ws(&b->p, b->end);
        json_t *value = NULL;
        if (b->p < b->end && *b->p == ':') {
            b->p++;
            skip_ws(&b->p, b->end);
            value = build_value(b);
        }
        bool ok = value && json_object_set_new_nocheck(obj, key, value) == 0;
        if (key != small)
            free(key);
        if (!ok)
            break;
        int closed = after_item(&b->p, b->end, '}');
        if (closed == 1)
            return obj;
        if (closed < 0)
            break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *build_array(builder *b)
{
    json_t *arr = json_array();
    b->p++;
    skip_ws(&b->p, b->end);
    if (b->p < b->end && *b->p == ']') {
        b->p++;
        return arr;
    }
    for (;;) {
        json_t *value = build_value(b);
        if (!value || json_array_append_new(arr, value) != 0)
            break;
        int closed = after_item(&b->p, b->end, ']');
        if (closed == 1)
            return arr;
        if (closed < 0)
            break;
    }
    json_decref(arr);
    return NULL;
}

static json_t *build_value(builder *b)
{
    if (b->p == b->end)
        return NULL;
    size_t len;
    switch (*b->p) {
    case '{': return build_object(b);
    case '[': return build_array(b);
    case '"': return build_string(b, &len) ? json_stringn_nocheck(b->scratch.data, len) : NULL;
    case 't': return skip_word(&b->p, b->end, "true") ? json_true() : NULL;
    case 'f': return skip_word(&b->p, b->end, "false") ? json_false() : NULL;
    case 'n': return skip_word(&b->p, b->end, "null") ? json_null() : NULL;
    default: return build_number(b);
    }
}

json_t *nb_elided_parse(const nb_elided *e)
{
    builder b = { .p = e->text, .end = e->text + e->len, .scratch = NB_BUF_INIT };
    skip_ws(&b.p, b.end);
    json_t *root = build_value(&b);
    skip_ws(&b.p, b.end);
    if (root && b.p != b.end) {
        json_decref(root);
        root = NULL;
    }
    nb_buf_release(&b.scratch);
    return root;
}
