/* nb_buf: the one growable byte buffer. Emitters, diagnostics and dumps write into it.
 * Modelled on git's strbuf: `data` is never NULL and always NUL-terminated, so a
 * buffer can be printed or passed as a C string at any time. */
#ifndef NB2PIPE_BUF_H
#define NB2PIPE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nb_buf {
    char *data;
    size_t len;
    size_t cap; /* 0 while data points at the shared empty string */
} nb_buf;

extern char nb_buf_empty[1];
#define NB_BUF_INIT { nb_buf_empty, 0, 0 }

void nb_buf_init(nb_buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void nb_buf_release(nb_buf *b);
/* Empties the buffer but keeps its memory. */
void nb_buf_reset(nb_buf *b);
/* Makes room for EXTRA more bytes (plus the terminating NUL). */
void nb_buf_grow(nb_buf *b, size_t extra);
/* Shortens the buffer to LEN bytes (LEN <= b->len). */
void nb_buf_truncate(nb_buf *b, size_t len);

void nb_buf_add(nb_buf *b, const void *data, size_t len);
void nb_buf_puts(nb_buf *b, const char *s);
void nb_buf_putc(nb_buf *b, char c);
/* Appends code point CP (at most 0x10FFFF, not a surrogate) as UTF-8. */
void nb_buf_add_utf8(nb_buf *b, unsigned long cp);
/* Appends COUNT copies of C. */
void nb_buf_pad(nb_buf *b, char c, size_t count);
void nb_buf_printf(nb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nb_buf_vprintf(nb_buf *b, const char *fmt, va_list ap);

/* Returns the contents as a malloc'd string the caller frees (never NULL) and leaves
 * the buffer empty. *LEN receives the length when LEN is not NULL. */
char *nb_buf_detach(nb_buf *b, size_t *len);

bool nb_buf_equals(const nb_buf *b, const char *data, size_t len);

/* Reads the whole file PATH into B (replacing its contents). Returns 0, or -1 with
 * errno set; a file larger than MAX_BYTES fails with errno EFBIG. */
int nb_buf_read_file(nb_buf *b, const char *path, size_t max_bytes);

/* A whole file to read, not change: a regular file is mapped (its pages come from the
 * page cache with no copy and no page faults one by one, which is most of the cost of
 * reading a big notebook), anything else is read into BUF. DATA[LEN] is '\0'. */
typedef struct nb_file_view {
    const char *data;
    size_t len;
    size_t mapped; /* bytes mapped, or 0 when DATA is BUF's */
    nb_buf buf;
} nb_file_view;

/* As nb_buf_read_file: 0, or -1 with errno set (EFBIG over MAX_BYTES). Release V with
 * nb_file_view_release even after a failure. */
int nb_file_view_open(nb_file_view *v, const char *path, size_t max_bytes);
void nb_file_view_release(nb_file_view *v);

#endif
