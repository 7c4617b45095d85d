#include "nb2pipe/text.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

size_t nb_utf8_decode(const char *str, size_t len, unsigned long *code_point)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n;
    unsigned long min;
    if (s[0] < 0x80) {
        *code_point = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0)
        n = 2, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        n = 3, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > len)
        return 0;
    unsigned long cp = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *code_point = cp;
    return n;
}

size_t nb_utf8_sequence(const char *str, size_t len)
{
    unsigned long cp;
    return nb_utf8_decode(str, len, &cp);
}

size_t nb_utf8_check(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
#ifdef __SSE2__
        /* sixteen ASCII bytes at a time: notebooks are mostly ASCII (base64 images) */
        if (len - i >= 16) {
            __m128i x;
            memcpy(&x, s + i, 16);
            if (_mm_movemask_epi8(x) == 0) {
                i += 16;
                continue;
            }
        }
#endif
        /* eight at a time */
        uint64_t word;
        if (len - i >= 8 && (memcpy(&word, s + i, 8), (word & 0x8080808080808080u) == 0)) {
            i += 8;
            continue;
        }
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = nb_utf8_sequence(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

int nb_utf8_columns(const char *s, size_t len)
{
    int cols = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cols++;
    return cols;
}

int nb_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void nb_text_position(const char *text, size_t offset, int *line, int *col)
{
    int l = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            line_start = i + 1;
        }
    }
    *line = l;
    *col = nb_utf8_columns(text + line_start, offset - line_start) + 1;
}

const char *nb_text_line(const char *text, size_t len, int line, size_t *line_len)
{
    const char *p = text, *end = text + len;
    for (int n = 1; n < line; n++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    *line_len = (size_t)((eol ? eol : end) - p);
    return p;
}
