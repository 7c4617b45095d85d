/* The split modes (segment.c, split_dataflow.c): which mode auto chooses and why
 * (tags, '## ', the heading level with the most steps, one step for tiny notebooks,
 * dataflow), where the dataflow split cuts, how it names steps, and that editing one
 * cell moves no cut point away from the edit. Notebooks are built from cell lists:
 * "# md" starts a markdown cell, anything else is code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/alloc.h"
#include "nb2pipe/analysis.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/segment.h"
#include "nb2pipe/split_dataflow.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MD "#md "

typedef struct split_run {
    nb_notebook *nb;
    nb_analysis *an;
    nb_segmentation seg;
    nb_diags diags;
} split_run;

/* A notebook of CELLS (NULL-terminated): MD-prefixed ones are markdown; TAGS, when not
 * NULL, is parallel to CELLS: a tag for that cell, or NULL. */
static nb_notebook *make_notebook(const char *const *cells, const char *const *tags)
{
    json_t *list = json_array();
    for (size_t i = 0; cells[i]; i++) {
        bool md = strncmp(cells[i], MD, strlen(MD)) == 0;
        json_t *meta = json_object();
        if (tags && tags[i])
            json_object_set_new(meta, "tags", json_pack("[s]", tags[i]));
        json_t *cell = json_pack("{s:s, s:o, s:s}", "cell_type", md ? "markdown" : "code",
                                 "metadata", meta, "source", md ? cells[i] + strlen(MD) : cells[i]);
        if (!md) {
            json_object_set_new(cell, "outputs", json_array());
            json_object_set_new(cell, "execution_count", json_null());
        }
        json_array_append_new(list, cell);
    }
    json_t *doc = json_pack("{s:o, s:{s:{s:s}}, s:i, s:i}", "cells", list, "metadata",
                            "kernelspec", "name", "python3", "nbformat", 4, "nbformat_minor", 4);
    char *text = json_dumps(doc, 0);
    nb_diags diags = NB_DIAGS_INIT;
    nb_notebook *nb = nb_notebook_read_mem("t.ipynb", text, strlen(text), NULL, &diags);
    assert_non_null(nb);
    nb_diags_release(&diags);
    free(text);
    json_decref(doc);
    return nb;
}

static void run_split(split_run *r, const char *const *cells, const char *const *tags,
                      nb_split split, size_t max_steps)
{
    memset(r, 0, sizeof *r);
    r->nb = make_notebook(cells, tags);
    r->an = nb_analysis_scan(r->nb, &r->diags);
    nb_segment_roles(r->an, &r->seg, &r->diags);
    nb_analysis_resolve(r->an, NULL, &r->diags);
    nb_segment_opts opts = { .split = split, .max_steps = max_steps, .pipeline_name = "t" };
    assert_int_equal(nb_segment_steps(r->an, &opts, &r->seg, &r->diags), 0);
}

static void release(split_run *r)
{
    nb_segmentation_release(&r->seg);
    nb_analysis_free(r->an);
    nb_notebook_free(r->nb);
    nb_diags_release(&r->diags);
}

/* The step names, comma-separated, into a static buffer. */
static const char *step_names(const split_run *r)
{
    static char text[512];
    text[0] = '\0';
    for (size_t i = 0; i < r->seg.nsteps; i++) {
        if (i)
            strcat(text, ",");
        strcat(text, r->seg.steps[i].name);
    }
    return text;
}

/* The notebook cell numbers each step starts with, comma-separated. */
static const char *step_starts(const split_run *r)
{
    static char text[512];
    text[0] = '\0';
    for (size_t i = 0; i < r->seg.nsteps; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s%d", i ? "," : "",
                 r->an->cells[r->seg.steps[i].cells[0]].cell->number);
        strcat(text, one);
    }
    return text;
}

/* Whether the reason auto gives for its choice holds TEXT. */
static bool has_note(const split_run *r, const char *text)
{
    return r->seg.reason && strstr(r->seg.reason, text) != NULL;
}

/* ---- auto's choice ----------------------------------------------------------------- */

static void test_auto_prefers_tags_then_h2(void **state)
{
    (void)state;
    static const char *const cells[] = { MD "## Load", "x = 1", "y = x + 1", MD "## Use",
                                         "z = y * 2", "print(z)", NULL };
    static const char *const tags[] = { NULL, "block:a", NULL, NULL, "block:b", NULL, NULL };
    split_run r;
    run_split(&r, cells, tags, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_TAGS);
    assert_string_equal(step_names(&r), "a,b");
    assert_true(has_note(&r, "tags (cells carry Kale"));
    release(&r);
    run_split(&r, cells, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_HEADINGS);
    assert_int_equal(r.seg.heading_level, 2);
    assert_string_equal(step_names(&r), "load,use");
    release(&r);
}

static void test_auto_heading_level(void **state)
{
    (void)state;
    /* one '#' title over everything, three '###' sections of two cells each: '###'
     * gives three steps of two or more cells, '#' one */
    static const char *const cells[] = {
        MD "# Study", "import math", MD "### Read", "a = [1, 2, 3]", "b = sorted(a)",
        MD "### Transform", "c = [math.sqrt(v) for v in b]", "d = sum(c)",
        MD "### Report", "e = round(d, 2)", "print(e)", NULL,
    };
    split_run r;
    run_split(&r, cells, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_HEADINGS);
    assert_int_equal(r.seg.heading_level, 3);
    assert_string_equal(step_names(&r), "read,transform,report");
    assert_true(has_note(&r, "headings level 3 (no Kale tags, no '## ' headings; '### ' "
                             "headings give 3 steps"));
    release(&r);

    /* '#' sections of two cells beat a single '###' one */
    static const char *const top[] = {
        MD "# One", "a = 1", "b = a + 1", MD "# Two", "c = b + 1", MD "### Detail", "d = c + 1",
        "e = d + 1", MD "# Three", "f = e + 1", "print(f)", NULL,
    };
    run_split(&r, top, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.heading_level, 1);
    assert_string_equal(step_names(&r), "one,two,three");
    release(&r);

    /* headings whose sections hold one code cell each give no level: dataflow */
    static const char *const thin[] = {
        MD "# A", "a = 1", MD "# B", "b = a + 1", MD "### C", "c = b + 1", "d = c + 1",
        "e = d + 1", NULL,
    };
    run_split(&r, thin, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_DATAFLOW);
    release(&r);
}

/* A lone '## ' heading over the notebook makes one step: not a split. In a tiny
 * notebook it still names the step. */
static void test_auto_lone_h2(void **state)
{
    (void)state;
    static const char *const cells[] = { MD "## Everything", "a = list(range(9))",
                                         "b = [v * 2 for v in a]", "c = sum(b)", "d = c / len(b)",
                                         "e = round(d, 1)", "print(e)", NULL };
    split_run r;
    run_split(&r, cells, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_DATAFLOW);
    assert_true(r.seg.nsteps >= 2);
    assert_true(has_note(&r, "'## ' headings make one step"));
    release(&r);
    static const char *const tiny[] = { MD "## Everything", "a = list(range(9))", "print(a)",
                                        NULL };
    run_split(&r, tiny, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_HEADINGS);
    assert_string_equal(step_names(&r), "everything");
    release(&r);
}

static void test_auto_tiny_is_single(void **state)
{
    (void)state;
    static const char *const cells[] = { "import math", "a = math.pi", "print(a)", NULL };
    split_run r;
    run_split(&r, cells, NULL, NB_SPLIT_AUTO, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_SINGLE);
    assert_int_equal(r.seg.nsteps, 1);
    assert_string_equal(r.seg.steps[0].name, "t");
    assert_true(has_note(&r, "single (only 3 code cells, too few to split)"));
    release(&r);
}

/* ---- the dataflow split ------------------------------------------------------------ */

/* load -> clean -> features -> train -> evaluate, with values that cross each stage:
 * the cuts go where few values cross, after the artifacts. */
static const char *const pipeline_cells[] = {
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score",
    "PATH = 'data.csv'",
    "raw = pd.read_csv(PATH)",                                   /* 3: loaded */
    "print(raw.shape)",
    "raw = raw.dropna()\nraw['a2'] = raw['a'] * 2",
    "raw['b2'] = raw['b'] ** 2\nmean_a = raw['a'].mean()",
    "X = raw[['a2', 'b2']] - mean_a\ny = raw['label']",           /* 7 */
    "X_train, X_test = X[:80], X[80:]\ny_train, y_test = y[:80], y[80:]",
    "model = LogisticRegression()\nmodel.fit(X_train, y_train)", /* 9: model */
    "pred = model.predict(X_test)",
    "acc = accuracy_score(y_test, pred)",                        /* 11: metrics */
    "print(acc)",
    NULL,
};

static void test_dataflow_cuts_and_names(void **state)
{
    (void)state;
    split_run r;
    run_split(&r, pipeline_cells, NULL, NB_SPLIT_DATAFLOW, 0);
    assert_int_equal(r.seg.split, NB_SPLIT_DATAFLOW);
    /* the imports and the literal run in every step */
    assert_int_equal(r.seg.roles[0], NB_ROLE_PRELUDE);
    assert_int_equal(r.seg.roles[1], NB_ROLE_PRELUDE);
    /* ten cells, steps of two or more. One value (raw) crosses after cells 3 to 5: the
     * earliest allowed of them (cell 4) wins. After the model (cell 9) X_test, y_test
     * and model cross; after cell 10 only y_test and pred, which beats the bonus of the
     * artifact. */
    assert_string_equal(step_starts(&r), "3,5,11");
    assert_string_equal(step_names(&r), "load_raw,train_model,evaluate_acc");
    const nb_boundary *b = r.seg.cuts.boundaries;
    assert_int_equal(r.seg.cuts.nboundaries, 9);
    assert_int_equal(b[0].crossing, 1); /* raw */
    assert_int_equal(b[0].artifact, NB_ARTIFACT_LOADED);
    assert_int_equal(b[6].artifact, NB_ARTIFACT_MODEL);
    assert_int_equal(b[8].artifact, NB_ARTIFACT_METRICS);
    assert_true(b[1].cut);
    assert_int_equal(b[6].crossing, 3);
    assert_int_equal(b[7].crossing, 2);
    assert_true(b[7].cut);
    release(&r);

    /* --max-steps 2: steps of five or more cells, one cut */
    run_split(&r, pipeline_cells, NULL, NB_SPLIT_DATAFLOW, 2);
    assert_int_equal(r.seg.nsteps, 2);
    assert_int_equal(r.seg.cuts.min_cells, 5);
    release(&r);
}

/* Never right after a set-up cell; never where a value no serializer saves crosses. */
static void test_dataflow_never_cuts(void **state)
{
    (void)state;
    static const char *const cells[] = {
        "a = [1, 2, 3]",
        "b = [v * 2 for v in a]",
        "def double(v):\n    return v * 2",
        "c = [double(v) for v in b]",
        "gen = (v for v in c)",
        "first = next(gen)",
        "second = next(gen)",
        "print(first, second)",
        NULL,
    };
    split_run r;
    run_split(&r, cells, NULL, NB_SPLIT_DATAFLOW, 0);
    const nb_boundary *b = r.seg.cuts.boundaries;
    assert_true(b[2].setup); /* after the def */
    assert_false(b[2].cut);
    assert_true(b[4].unsaveable); /* gen crosses to cell 6 and, changed by it, to 7 */
    assert_true(b[5].unsaveable);
    assert_false(b[3].unsaveable);
    assert_false(b[4].cut);
    assert_false(b[5].cut);
    for (size_t s = 0; s < r.seg.nsteps; s++)
        for (size_t c = 0; c < r.seg.steps[s].ncells; c++)
            if (r.an->cells[r.seg.steps[s].cells[c]].cell->number == 5)
                assert_true(c + 2 < r.seg.steps[s].ncells); /* gen's cells stay together */
    release(&r);
}

/* A markdown title above a step names it; the nearest one wins. */
static void test_dataflow_titles(void **state)
{
    (void)state;
    static const char *const cells[] = {
        MD "Some words, no heading.", "a = list(range(10))", "b = [v + 1 for v in a]",
        MD "#### Squares\nthen more", "c = [v * v for v in b]", "d = sum(c)",
        "e = d / len(c)", "print(e)", NULL,
    };
    split_run r;
    run_split(&r, cells, NULL, NB_SPLIT_DATAFLOW, 0);
    assert_string_equal(step_starts(&r), "2,5");
    assert_string_equal(step_names(&r), "b,squares");
    release(&r);
}

/* Editing one cell (a line that reads a value of the cell before it) changes the scores
 * of the boundaries around it only, and moves no cut whose window holds none of them. */
static void test_dataflow_stable_under_edit(void **state)
{
    (void)state;
    enum { N = 40 };
    char *cells[N + 1];
    /* a long notebook of chained computations with a few values read from far away */
    for (int i = 0; i < N; i++) {
        char text[256];
        if (i == 0)
            snprintf(text, sizeof text, "v0 = list(range(100))");
        else if (i % 7 == 0)
            snprintf(text, sizeof text, "v%d = [x + 1 for x in v%d] + v%d[:2]", i, i - 1, i - 5);
        else if (i % 5 == 0)
            snprintf(text, sizeof text, "v%d = sorted(v%d)\nw%d = len(v%d)", i, i - 1, i, i - 1);
        else
            snprintf(text, sizeof text, "v%d = [x * 2 for x in v%d]", i, i - 1);
        cells[i] = nb_xstrdup(text);
    }
    cells[N] = NULL;
    split_run before;
    run_split(&before, (const char *const *)cells, NULL, NB_SPLIT_DATAFLOW, 4);
    size_t window = before.seg.cuts.min_cells - 1;
    assert_true(before.seg.cuts.nsteps >= 2);
    for (int edit = 1; edit < N; edit++) {
        char *old = cells[edit];
        char text[512];
        /* also read the value two cells up: one more name across one boundary */
        snprintf(text, sizeof text, "%s\nprint(len(v%d))", old, edit >= 2 ? edit - 2 : 0);
        cells[edit] = text;
        split_run after;
        run_split(&after, (const char *const *)cells, NULL, NB_SPLIT_DATAFLOW, 4);
        cells[edit] = old;
        const nb_dataflow_cuts *a = &before.seg.cuts, *b = &after.seg.cuts;
        assert_int_equal(a->nboundaries, b->nboundaries);
        for (size_t k = 0; k < a->nboundaries; k++) {
            /* the boundaries whose facts changed */
            bool touched = false;
            for (size_t j = k > window ? k - window : 0; j <= k + window && j < a->nboundaries; j++)
                touched = touched || a->boundaries[j].score != b->boundaries[j].score ||
                          a->boundaries[j].setup != b->boundaries[j].setup ||
                          a->boundaries[j].unsaveable != b->boundaries[j].unsaveable;
            if (!touched)
                assert_int_equal(a->boundaries[k].cut, b->boundaries[k].cut);
            /* and the edit changes facts only between its reader and the cell it reads */
            if (a->boundaries[k].score != b->boundaries[k].score)
                assert_true((int)k >= edit - 3 && (int)k <= edit);
        }
        release(&after);
    }
    release(&before);
    for (int i = 0; i < N; i++)
        free(cells[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_prefers_tags_then_h2),
        cmocka_unit_test(test_auto_heading_level),
        cmocka_unit_test(test_auto_lone_h2),
        cmocka_unit_test(test_auto_tiny_is_single),
        cmocka_unit_test(test_dataflow_cuts_and_names),
        cmocka_unit_test(test_dataflow_never_cuts),
        cmocka_unit_test(test_dataflow_titles),
        cmocka_unit_test(test_dataflow_stable_under_edit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
