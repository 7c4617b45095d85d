/* The dataflow split (`--split dataflow`): where to cut a run of code cells into steps
 * when the notebook gives no tags or headings to cut at, read from the analysis alone.
 *
 * Every boundary between two consecutive cells gets a score from facts about it: the
 * data names live across it (bound at or before it, read after it), less a bonus when
 * the cell before it makes a named artifact (a loaded frame, a fitted model, metrics) or
 * a markdown cell sits between the two. A boundary is a cut when it is allowed (not
 * right after a set-up cell, no value crossing it that cannot be saved) and its score is
 * the lowest of the allowed boundaries within a window around it (the earliest wins a
 * tie). The window is one less than the smallest step, so cuts are at least that many
 * cells apart, and a cut depends only on boundaries near it: editing one cell moves no
 * cut whose window holds no boundary whose score the edit changes. */
#ifndef NB2PIPE_SPLIT_DATAFLOW_H
#define NB2PIPE_SPLIT_DATAFLOW_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"

#include <stdbool.h>
#include <stddef.h>

enum {
    NB_DATAFLOW_MIN_CELLS = 4,  /* fewer code cells than this stay one step */
    NB_DATAFLOW_MAX_STEPS = 8,  /* the default of --max-steps */
};

/* What a cell makes that names a step and invites a cut right after it. */
typedef enum nb_artifact_kind {
    NB_ARTIFACT_NONE,
    NB_ARTIFACT_LOADED,  /* df = pd.read_csv(...), X, y = load_iris(...) */
    NB_ARTIFACT_MODEL,   /* model.fit(X, y), model = Pipeline(...).fit(X, y) */
    NB_ARTIFACT_METRICS, /* acc = accuracy_score(...), report = classification_report(...) */
} nb_artifact_kind;

/* One boundary: between LIST[after] and LIST[after + 1]. */
typedef struct nb_boundary {
    size_t after;
    size_t crossing;         /* data names live across it */
    int score;               /* lower is a better cut (crossing * 4 less the bonuses) */
    nb_artifact_kind artifact; /* what LIST[after] makes */
    bool heading;            /* a markdown heading lies between the two cells */
    bool markdown;           /* a markdown cell lies between the two cells */
    bool setup;              /* LIST[after] sets up what follows: never cut here */
    bool unsaveable;         /* a value that cannot be saved crosses it: never cut here */
    bool cut;
} nb_boundary;

typedef struct nb_dataflow_cuts {
    nb_boundary *boundaries; /* NLIST - 1 of them, in order */
    size_t nboundaries;
    size_t *starts;          /* the first position in LIST of each step; starts[0] == 0 */
    size_t nsteps;
    size_t min_cells;        /* the smallest step the rule allowed */
} nb_dataflow_cuts;

/* Splits the code cells LIST (NLIST indexes into AN->cells, ascending; the cells to form
 * steps) into at most MAX_STEPS steps (0: the default). SETUP, by index into AN->cells,
 * marks the cells that only set up (imports, definitions, literals): no cut right after
 * them. AN must be resolved. Free OUT with nb_dataflow_cuts_release. */
void nb_split_dataflow(const nb_analysis *an, const size_t *list, size_t nlist, const bool *setup,
                       size_t max_steps, nb_dataflow_cuts *out);

void nb_dataflow_cuts_release(nb_dataflow_cuts *cuts);

/* The artifact cell AN->cells[INDEX] makes, and in *NAME the name it is bound to
 * (NB_NO_NAME when there is none). */
nb_artifact_kind nb_cell_artifact(const nb_analysis *an, size_t index, nb_name *name);

/* A name for the step of code cells LIST[0..N) from the value it produces, into OUT
 * (unsanitised; the caller makes it a step name): `train_model` for a step whose last
 * artifact is `model = ...fit(...)`, `load_df` for `df = pd.read_csv(...)`, the metrics'
 * name, else the data name it binds that most later cells read. Empty when none. */
void nb_dataflow_step_value_name(const nb_analysis *an, const size_t *list, size_t n, nb_buf *out);

const char *nb_artifact_kind_name(nb_artifact_kind kind);

#endif
