/* Run records: the SQLite database of runs and step executions, and the
 * content-addressed store of step outputs (written in the run issue). */
#include "nb2pipe/runrec.h"
