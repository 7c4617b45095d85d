/* What nb2pipe knows about the libraries notebooks call: which methods leave their
 * receiver alone, which return new objects, which calls seed or draw from a global random
 * generator, set interpreter state, run dynamic code, or read and write files. Static
 * tables, sorted for binary search; the analysis is conservative about anything they do
 * not list. */
#ifndef NB2PIPE_PYKNOWN_H
#define NB2PIPE_PYKNOWN_H

#include <stdbool.h>
#include <stddef.h>

/* A method that never changes its receiver (pandas, numpy, scikit-learn read-only
 * methods, str and tuple methods...). A method missing here may change its receiver,
 * whether or not its result is used. */
bool nb_known_pure_method(const char *name, size_t len);

/* A method whose result shares no object with its receiver (df.copy(), df.dropna(),
 * model.predict(X)). The result of any other method may be, or hold, part of the
 * receiver (arr.reshape(...), reg.get("a"), df.groupby(...)). */
bool nb_known_fresh_method(const char *name, size_t len);

/* A method that does not keep a reference to its arguments in its receiver (model.fit(X),
 * ax.plot(x)). Any other method may store them (items.append(obj), reg.add(m)). */
bool nb_known_keeps_no_arguments(const char *name, size_t len);

/* A builtin whose result may hold its arguments' objects (list(models.values()),
 * sorted(xs), zip(a, b)); other builtins return new values (len, print, range...). */
bool nb_known_passthrough_builtin(const char *name, size_t len);

/* A method or module function, by its last name, whose result may share its arguments'
 * memory (np.asarray(x), np.reshape(a, ...), pd.DataFrame(arr), itertools.chain(a, b)). */
bool nb_known_passthrough_method(const char *name, size_t len);

/* A function (by its last name) whose results hold each other: `fig, ax =
 * plt.subplots()` gives axes that belong to the figure. */
bool nb_known_linked_results(const char *name, size_t len);

/* A library function, by canonical dotted path ("numpy.asarray"), whose result may
 * share its arguments' memory; other library functions return new objects. */
bool nb_known_passthrough_function(const char *path);

/* What a call of a library function or method does to the interpreter, by canonical
 * dotted path ("numpy.random.seed", "pandas.set_option"). */
typedef enum nb_call_class {
    NB_CALL_OTHER,
    NB_CALL_SEED,     /* seeds a global random generator (random.seed, np.random.seed) */
    NB_CALL_DRAW,     /* draws from a global random generator (np.random.rand) */
    NB_CALL_STATE,    /* sets interpreter state later code depends on (pd.set_option) */
    NB_CALL_DYNAMIC,  /* runs or binds code the analysis cannot see (exec, globals()) */
} nb_call_class;

nb_call_class nb_known_call_class(const char *path);

/* A store into one of these (`os.environ[k] = v`, `plt.rcParams[k] = v`,
 * `pd.options.display.precision = 2`) sets interpreter state; PATH is canonical. */
bool nb_known_state_store(const char *path);

/* Whether code under module PATH (canonical: "sklearn.ensemble", "scipy.stats") may draw
 * from numpy's global random generator when called without a random_state. */
bool nb_known_draws_implicitly(const char *path);

/* A method name whose call may draw from numpy's global generator inside a library
 * (fit, fit_transform, sample, split...). */
bool nb_known_drawing_method(const char *name, size_t len);

/* A library constructor (canonical path) whose result no serializer can save:
 * xgboost.DMatrix, a database connection, a thread pool. */
bool nb_known_unpicklable(const char *path);

/* File access by a call: which argument names the path and whether it reads or writes. */
typedef enum nb_file_mode { NB_FILE_NONE, NB_FILE_READ, NB_FILE_WRITE } nb_file_mode;

typedef struct nb_file_call {
    nb_file_mode mode;
    int position;        /* the path's positional index, or -1 */
    const char *keyword; /* the path's keyword, or NULL */
} nb_file_call;

/* A library function (canonical path: "pandas.read_csv", "numpy.save", "open") that
 * reads or writes a file; mode NB_FILE_NONE when it is not one. */
nb_file_call nb_known_file_function(const char *path);

/* A method (df.to_csv, fig.savefig) that writes or reads a file. */
nb_file_call nb_known_file_method(const char *name, size_t len);

#endif
