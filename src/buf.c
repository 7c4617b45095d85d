#define _DEFAULT_SOURCE /* MAP_POPULATE */

#include "nb2pipe/buf.h"

#include "nb2pipe/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_POPULATE
#define MAP_POPULATE 0
#endif

char nb_buf_empty[1];

void nb_buf_init(nb_buf *b)
{
    b->data = nb_buf_empty;
    b->len = 0;
    b->cap = 0;
}

void nb_buf_release(nb_buf *b)
{
    if (b->cap)
        free(b->data);
    nb_buf_init(b);
}

void nb_buf_reset(nb_buf *b)
{
    nb_buf_truncate(b, 0);
}

void nb_buf_truncate(nb_buf *b, size_t len)
{
    if (len > b->len)
        len = b->len;
    b->len = len;
    if (b->cap)
        b->data[len] = '\0';
}

void nb_buf_grow(nb_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) {
        fprintf(stderr, "nb2pipe: fatal: buffer size overflow\n");
        abort();
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    char *old = b->cap ? b->data : NULL;
    size_t cap = b->cap;
    char *data = nb_xgrow(old, &cap, need, 1);
    if (!old)
        data[0] = '\0';
    b->data = data;
    b->cap = cap;
}

void nb_buf_add(nb_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    nb_buf_grow(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void nb_buf_puts(nb_buf *b, const char *s)
{
    nb_buf_add(b, s, strlen(s));
}

void nb_buf_putc(nb_buf *b, char c)
{
    nb_buf_add(b, &c, 1);
}

void nb_buf_add_utf8(nb_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    nb_buf_add(b, u, n);
}

void nb_buf_pad(nb_buf *b, char c, size_t count)
{
    if (count == 0)
        return;
    nb_buf_grow(b, count);
    memset(b->data + b->len, c, count);
    b->len += count;
    b->data[b->len] = '\0';
}

void nb_buf_vprintf(nb_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        nb_buf_add(b, small, (size_t)n);
        return;
    }
    nb_buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void nb_buf_printf(nb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *nb_buf_detach(nb_buf *b, size_t *len)
{
    char *data = b->cap ? b->data : nb_xstrdup("");
    if (len)
        *len = b->len;
    nb_buf_init(b);
    return data;
}

bool nb_buf_equals(const nb_buf *b, const char *data, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, data, len) == 0);
}

int nb_buf_read_file(nb_buf *b, const char *path, size_t max_bytes)
{
    nb_buf_reset(b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uintmax_t)st.st_size > max_bytes) {
            close(fd);
            errno = EFBIG;
            return -1;
        }
        nb_buf_grow(b, (size_t)st.st_size);
    }
    for (;;) {
        nb_buf_grow(b, 64 * 1024);
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        if (b->len > max_bytes) {
            close(fd);
            errno = EFBIG;
            return -1;
        }
    }
    close(fd);
    return 0;
}

/* A mapped file that another process truncates while nb2pipe reads it faults with SIGBUS
 * on the pages past its new end. That is a file changing under us, not a crash: the
 * handler names the file and exits 2. Nothing can be half written at that point: the
 * mapping is only read while parsing and comparing, and every output goes to a temporary
 * file renamed into place afterwards. One mapping is guarded at a time (nb2pipe reads one
 * notebook at a time); a second view while one is open is read instead of mapped. */
static struct {
    const char *start; /* NULL when no mapping is guarded */
    size_t len;
    char message[512];
    size_t message_len;
} guarded_view;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    const char *addr = info->si_addr;
    if (guarded_view.start && addr >= guarded_view.start &&
        addr < guarded_view.start + guarded_view.len) {
        ssize_t ignored = write(STDERR_FILENO, guarded_view.message, guarded_view.message_len);
        (void)ignored;
        _exit(2);
    }
    /* not ours: die of it as if there were no handler */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void guard_mapping(const char *start, size_t len, const char *path)
{
    static bool handler_installed;
    if (!handler_installed) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, NULL);
        handler_installed = true;
    }
    int n = snprintf(guarded_view.message, sizeof guarded_view.message,
                     "%s: error: the file shrank while it was being read (another process "
                     "changed it); nothing was written [io-error]\n", path);
    guarded_view.message_len = n < 0 ? 0 : (size_t)n < sizeof guarded_view.message
                                                ? (size_t)n : sizeof guarded_view.message - 1;
    guarded_view.len = len;
    guarded_view.start = start;
}

int nb_file_view_open(nb_file_view *v, const char *path, size_t max_bytes)
{
    memset(v, 0, sizeof *v);
    nb_buf_init(&v->buf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    long page = sysconf(_SC_PAGESIZE);
    /* a mapping ends in zeros up to its page's end, which gives the '\0' after the
     * last byte; a file that fills its last page is read instead */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && page > 0 &&
        (uintmax_t)st.st_size <= max_bytes && st.st_size % page != 0 && !guarded_view.start) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map != MAP_FAILED) {
            close(fd);
            v->data = map;
            v->len = (size_t)st.st_size;
            v->mapped = v->len;
            /* the guard covers the whole last page: its zeros after the end are read too */
            guard_mapping(map, v->mapped + (size_t)page - v->mapped % (size_t)page, path);
            return 0;
        }
    }
    close(fd);
    if (nb_buf_read_file(&v->buf, path, max_bytes) != 0)
        return -1;
    v->data = v->buf.data;
    v->len = v->buf.len;
    return 0;
}

void nb_file_view_release(nb_file_view *v)
{
    if (v->mapped) {
        if (guarded_view.start == v->data)
            guarded_view.start = NULL;
        munmap((void *)(uintptr_t)v->data, v->mapped);
    }
    nb_buf_release(&v->buf);
    memset(v, 0, sizeof *v);
    nb_buf_init(&v->buf);
}
