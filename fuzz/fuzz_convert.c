/* libFuzzer target: `nb2pipe convert --target all` end to end, in memory: notebook bytes
 * read (notebook.c), analysed, split into steps, the pipeline IR built, and every
 * target's files emitted into a file set (convert.h), sorted and sealed, without
 * writing anything. The first input byte picks the split and a few export options, so
 * that they are fuzzed too; the rest is the notebook. Checks that every generated path
 * stays inside the output directory, and that every generated YAML file parses (with
 * libyaml, which reads NEL, U+2028 and U+2029 as line breaks as other YAML 1.1 readers
 * do) and every JSON file too. */
#include "nb2pipe/convert.h"
#include "nb2pipe/emit.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/notebook.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* True when the LEN bytes at TEXT are a YAML stream libyaml parses to the end. */
static bool yaml_parses(const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    bool ok = true;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            ok = false;
            break;
        }
        bool end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    return ok;
}

static void check_file(const nb_outfile *f)
{
    if (!nb_path_is_safe(f->path)) {
        fprintf(stderr, "convert: unsafe output path '%s'\n", f->path);
        abort();
    }
    if (ends_with(f->path, ".yaml") && !yaml_parses(f->data.data, f->data.len)) {
        fprintf(stderr, "convert: %s does not parse as YAML:\n%.*s\n", f->path,
                (int)f->data.len, f->data.data);
        abort();
    }
    if (ends_with(f->path, ".json")) {
        json_error_t err;
        json_t *doc = json_loadb(f->data.data, f->data.len, 0, &err);
        if (!doc) {
            fprintf(stderr, "convert: %s does not parse as JSON: %s\n", f->path, err.text);
            abort();
        }
        json_decref(doc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const nb_split splits[] = { NB_SPLIT_AUTO, NB_SPLIT_TAGS, NB_SPLIT_HEADINGS,
                                       NB_SPLIT_SINGLE };
    uint8_t knobs = data[0];
    nb_diags diags;
    nb_diags_init(&diags);
    nb_notebook *nb = nb_notebook_read_mem("nb/fuzz.ipynb", (const char *)data + 1, size - 1,
                                           NULL, &diags);
    if (nb && nb_notebook_is_python(nb)) {
        bool targets[64];
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
            targets[t] = true; /* --target all */
        static const char *const allow[] = { "spark", "dbutils" };
        /* bit 64: the dataflow split, which the four low values do not reach */
        nb_split split = knobs & 64 ? NB_SPLIT_DATAFLOW : splits[knobs & 3];
        nb_convert_opts co = { .split = split, .allow = allow, .nallow = 2,
                               .targets = targets, .notebook_dir = "/nonexistent/nb2pipe-fuzz",
                               .regenerate = "nb2pipe convert fuzz.ipynb --target all" };
        nb_pipeline *p = nb_convert_pipeline(nb, &co, &diags);
        if (p) {
            /* the paths cli.c passes for `nb2pipe convert nb/fuzz.ipynb` */
            nb_emit_opts eo = { .workdir = "..", .notebook = "../fuzz.ipynb",
                                .pipeline_dir = "fuzz", .airflow_version = knobs & 4 ? 2 : 3,
                                .airflow_kubernetes = knobs & 8, .argo_template = knobs & 16,
                                .argo_artifacts = knobs & 32 };
            nb_fileset fs;
            nb_fileset_init(&fs);
            if (nb_convert_emit(p, &co, &eo, &fs, &diags) == 0)
                for (size_t i = 0; i < fs.len; i++)
                    check_file(&fs.files[i]);
            nb_fileset_release(&fs);
            nb_pipeline_free(p);
        }
    }
    nb_notebook_free(nb);
    nb_buf text = NB_BUF_INIT;
    nb_diags_render_text(&diags, &text, false);
    nb_buf_release(&text);
    nb_diags_release(&diags);
    return 0;
}
