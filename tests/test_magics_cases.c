/* Runs the magic translation cases in tests/magics/ (*.txt): each case is a cell and
 *
 *   --- python     the Python text it becomes (same number of lines)
 *   --- magics     one line per magic: LINE:COL NAME ACTION
 *   --- packages   one requirement per line
 *
 * A missing section means "nothing". With NB2PIPE_UPDATE_GOLDEN=1 the expectations are
 * rewritten from the translation. */
#include "casefile.h"

#include "nb2pipe/magics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool check(tc_case *c, const char *section, const nb_buf *actual, bool update,
                  bool *rewrite, const char *path)
{
    const nb_buf *expected = tc_section_text(c, section);
    const char *exp = expected ? expected->data : "";
    size_t exp_len = expected ? expected->len : 0;
    if (nb_buf_equals(actual, exp, exp_len))
        return true;
    if (update) {
        tc_section_set(c, section, actual->data, actual->len);
        *rewrite = true;
        return true;
    }
    printf("FAIL %s:%d: %s [%s]\n--- expected\n%s--- actual\n%s\n", path, c->line, c->title,
           section, exp, actual->data);
    return false;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    size_t nfiles;
    char **files = tc_list_files(argv[1], ".txt", &nfiles);
    if (nfiles == 0) {
        fprintf(stderr, "no case files in %s\n", argv[1]);
        return 1;
    }
    bool update = tc_update_golden();
    nb_magics *magics = nb_magics_new();
    nb_magic_result res;
    nb_magic_result_init(&res);
    size_t passed = 0, failed = 0;
    for (size_t fi = 0; fi < nfiles; fi++) {
        tc_file file;
        if (!tc_file_read(&file, files[fi])) {
            failed++;
            continue;
        }
        bool rewrite = false;
        for (size_t ci = 0; ci < file.ncases; ci++) {
            tc_case *c = &file.cases[ci];
            nb_magics_translate(magics, c->input.data, c->input.len, &res);
            nb_buf list = NB_BUF_INIT, packages = NB_BUF_INIT;
            for (size_t i = 0; i < res.nmagics; i++)
                nb_buf_printf(&list, "%d:%d %s %s\n", res.magics[i].line, res.magics[i].col,
                              res.magics[i].name, nb_magic_action_name(res.magics[i].action));
            for (size_t i = 0; i < res.npackages; i++)
                nb_buf_printf(&packages, "%s\n", res.packages[i]);
            bool ok = check(c, "python", &res.python, update, &rewrite, file.path);
            ok = check(c, "magics", &list, update, &rewrite, file.path) && ok;
            ok = check(c, "packages", &packages, update, &rewrite, file.path) && ok;
            ok ? passed++ : failed++;
            nb_buf_release(&list);
            nb_buf_release(&packages);
        }
        if (rewrite && !tc_file_write(&file))
            fprintf(stderr, "cannot rewrite %s\n", file.path);
        tc_file_release(&file);
        free(files[fi]);
    }
    free(files);
    nb_magic_result_release(&res);
    nb_magics_free(magics);
    printf("magic cases: %zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
