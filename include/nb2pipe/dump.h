/* Renderers of the notebook analysis for `nb2pipe analyze`: text for people, JSON for
 * programs (shape in docs/analyze.md), Graphviz for pictures of the cell graph. */
#ifndef NB2PIPE_DUMP_H
#define NB2PIPE_DUMP_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/segment.h"

#include <jansson.h>

void nb_dump_analysis_text(const nb_analysis *an, nb_buf *out);
/* The analysis as a JSON object; the caller owns the reference. WITH_PYTHON adds each
 * cell's Python text (after magic translation). */
json_t *nb_dump_analysis_json(const nb_analysis *an, bool with_python);
/* A Graphviz digraph: one node per code cell, an edge from the cell providing a name to
 * each cell using it, labelled with the names. */
void nb_dump_analysis_dot(const nb_analysis *an, nb_buf *out);

/* The split `convert` would make: the mode, why (for auto), each step's cells and, for
 * the dataflow split, each boundary's facts. Text appends a block to OUT; JSON returns
 * an object the caller owns. */
void nb_dump_split_text(const nb_analysis *an, const nb_segmentation *seg, nb_buf *out);
json_t *nb_dump_split_json(const nb_analysis *an, const nb_segmentation *seg);

#endif
