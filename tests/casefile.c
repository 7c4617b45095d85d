#include "casefile.h"

#include "nb2pipe/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trim_blank_tail(nb_buf *b)
{
    while (b->len >= 2 && b->data[b->len - 1] == '\n' && b->data[b->len - 2] == '\n')
        nb_buf_truncate(b, b->len - 1);
    if (b->len == 1 && b->data[0] == '\n')
        nb_buf_truncate(b, 0);
}

static tc_section *add_section(tc_case *c, const char *name, size_t len)
{
    c->sections = nb_xrealloc(c->sections, (c->nsections + 1) * sizeof *c->sections);
    tc_section *s = &c->sections[c->nsections++];
    s->name = nb_xstrndup(name, len);
    nb_buf_init(&s->text);
    return s;
}

bool tc_file_read(tc_file *file, const char *path)
{
    memset(file, 0, sizeof *file);
    file->path = nb_xstrdup(path);
    nb_buf data = NB_BUF_INIT;
    if (nb_buf_read_file(&data, path, 64u << 20) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        nb_buf_release(&data);
        return false;
    }
    tc_case *cur = NULL;
    nb_buf *target = NULL;
    const char *p = data.data, *end = data.data + data.len;
    int line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line_no++;
        if (len >= 4 && memcmp(p, "=== ", 4) == 0) {
            if (target && cur && cur->nsections)
                trim_blank_tail(target);
            file->cases = nb_xrealloc(file->cases, (file->ncases + 1) * sizeof *file->cases);
            cur = &file->cases[file->ncases++];
            memset(cur, 0, sizeof *cur);
            cur->title = nb_xstrndup(p + 4, len - 4);
            cur->line = line_no;
            nb_buf_init(&cur->input);
            target = &cur->input;
        } else if (cur && (len == 3 || (len > 4 && p[3] == ' ')) && memcmp(p, "---", 3) == 0) {
            if (target && cur->nsections)
                trim_blank_tail(target);
            tc_section *s = add_section(cur, len > 4 ? p + 4 : "", len > 4 ? len - 4 : 0);
            target = &s->text;
        } else if (target) {
            nb_buf_add(target, p, len);
            nb_buf_putc(target, '\n');
        }
        p = nl ? nl + 1 : end;
    }
    if (target && cur && cur->nsections)
        trim_blank_tail(target);
    nb_buf_release(&data);
    return true;
}

void tc_file_release(tc_file *file)
{
    for (size_t i = 0; i < file->ncases; i++) {
        tc_case *c = &file->cases[i];
        free(c->title);
        nb_buf_release(&c->input);
        for (size_t s = 0; s < c->nsections; s++) {
            free(c->sections[s].name);
            nb_buf_release(&c->sections[s].text);
        }
        free(c->sections);
    }
    free(file->cases);
    free(file->path);
    memset(file, 0, sizeof *file);
}

const nb_buf *tc_section_text(const tc_case *c, const char *name)
{
    for (size_t i = 0; i < c->nsections; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i].text;
    return NULL;
}

void tc_section_set(tc_case *c, const char *name, const char *text, size_t len)
{
    tc_section *s = NULL;
    for (size_t i = 0; i < c->nsections && !s; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            s = &c->sections[i];
    if (!s)
        s = add_section(c, name, strlen(name));
    nb_buf_reset(&s->text);
    nb_buf_add(&s->text, text, len);
}

bool tc_file_write(const tc_file *file)
{
    FILE *f = fopen(file->path, "w");
    if (!f)
        return false;
    for (size_t i = 0; i < file->ncases; i++) {
        const tc_case *c = &file->cases[i];
        fprintf(f, "%s=== %s\n", i ? "\n" : "", c->title);
        fwrite(c->input.data, 1, c->input.len, f);
        for (size_t s = 0; s < c->nsections; s++) {
            fprintf(f, "---%s%s\n", c->sections[s].name[0] ? " " : "", c->sections[s].name);
            fwrite(c->sections[s].text.data, 1, c->sections[s].text.len, f);
        }
    }
    return fclose(f) == 0;
}

bool tc_update_golden(void)
{
    const char *v = getenv("NB2PIPE_UPDATE_GOLDEN");
    return v && strcmp(v, "1") == 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tc_list_files(const char *dir, const char *suffix, size_t *count)
{
    char **names = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *count = 0;
        return NULL;
    }
    struct dirent *e;
    size_t slen = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        names = nb_xrealloc(names, (n + 1) * sizeof *names);
        size_t full = strlen(dir) + 1 + len + 1;
        names[n] = nb_xmalloc(full);
        snprintf(names[n], full, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, compare_strings);
    *count = n;
    return names;
}
