/* The floor of nb2pipe's work: only what any tool that analyses a notebook's code cannot
 * avoid. It reads the file, parses the JSON with jansson (the flags nb2pipe uses), and
 * parses every code cell's source with tree-sitter and the same pinned Python grammar.
 * Nothing is analysed, translated or written; the counts printed keep the compiler from
 * dropping the work. The benchmark compares nb2pipe's commands with this program.
 *
 *     nb_bench_floor NOTEBOOK
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tree_sitter/api.h>
#include <unistd.h>

const TSLanguage *tree_sitter_python(void);

/* The whole file in one malloc'd buffer, as nb2pipe reads it. */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return NULL;
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *data = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            data = realloc(data, cap);
        }
        ssize_t got = read(fd, data + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    *len = n;
    return data;
}

/* A cell's source (a string or a list of strings) joined into *BUF. */
static size_t join_source(json_t *source, char **buf, size_t *cap)
{
    size_t len = 0, i;
    json_t *item;
    if (json_is_string(source)) {
        len = json_string_length(source);
        if (len + 1 > *cap) {
            *cap = 2 * (len + 1);
            *buf = realloc(*buf, *cap);
        }
        memcpy(*buf, json_string_value(source), len);
        return len;
    }
    json_array_foreach(source, i, item) {
        size_t n = json_string_length(item);
        if (len + n + 1 > *cap) {
            *cap = 2 * (len + n + 1);
            *buf = realloc(*buf, *cap);
        }
        memcpy(*buf + len, json_string_value(item), n);
        len += n;
    }
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: nb_bench_floor NOTEBOOK\n", stderr);
        return 2;
    }
    size_t len;
    char *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 2;
    }
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    free(data); /* the tree holds copies of every string */
    if (!root) {
        fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.column, err.text);
        return 2;
    }
    TSParser *parser = ts_parser_new();
    ts_parser_set_language(parser, tree_sitter_python());
    char *text = NULL;
    size_t cap = 0, ncode = 0, nnodes = 0, i;
    json_t *cell;
    json_array_foreach(json_object_get(root, "cells"), i, cell) {
        if (strcmp(json_string_value(json_object_get(cell, "cell_type")), "code") != 0)
            continue;
        size_t n = join_source(json_object_get(cell, "source"), &text, &cap);
        TSTree *tree = ts_parser_parse_string(parser, NULL, text ? text : "", (uint32_t)n);
        nnodes += ts_node_child_count(ts_tree_root_node(tree));
        ts_tree_delete(tree);
        ncode++;
    }
    printf("%zu code cells, %zu top-level nodes\n", ncode, nnodes);
    free(text);
    ts_parser_delete(parser);
    json_decref(root);
    return 0;
}
