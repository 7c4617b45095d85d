/* Run records of a pipeline directory: .nb2pipe/runs.sqlite and .nb2pipe/objects/. */
#ifndef NB2PIPE_RUNREC_H
#define NB2PIPE_RUNREC_H

#endif
