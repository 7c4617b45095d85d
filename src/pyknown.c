#include "nb2pipe/pyknown.h"

#include <stdlib.h>
#include <string.h>

/* ---- Lookup ------------------------------------------------------------------------ */

typedef struct key {
    const char *s;
    size_t len;
} key;

static int compare_key(const void *k, const void *item)
{
    const key *a = k;
    const char *b = *(const char *const *)item;
    int c = strncmp(a->s, b, a->len);
    if (c == 0 && b[a->len] != '\0')
        c = -1;
    return c;
}

/* Whether the LEN bytes at S are one of the N sorted strings of TABLE. */
static bool in_table(const char *const *table, size_t n, const char *s, size_t len)
{
    key k = { s, len };
    return bsearch(&k, table, n, sizeof *table, compare_key) != NULL;
}

#define IN(table, s, len) in_table(table, sizeof table / sizeof *table, s, len)

/* ---- Methods ------------------------------------------------------------------------- */

/* The public methods of pandas' DataFrame, Series, Index, GroupBy, Rolling, Resampler and
 * the .str/.dt/.cat accessors, numpy's ndarray and scalars, str, bytes, int, float, tuple
 * and frozenset (listed by /usr/bin/python3: scripts/gen_pure_methods.py), and the
 * read-only methods of scikit-learn estimators, dict, list and set; without every name
 * that changes its receiver in some common type (list.append, set.add, dict.update,
 * ndarray.sort, ndarray.fill, random.Random.sample, estimator.fit...). Sorted. */
static const char *const pure_methods[] = {
    "abs", "add_prefix", "add_suffix", "agg", "aggregate", "align", "all", "any", "apply",
    "applymap", "argmax", "argmin", "argpartition", "argsort", "as_integer_ratio", "as_ordered",
    "as_unordered", "asfreq", "asof", "asof_locs", "assign", "astimezone", "astype", "at_time",
    "autocorr", "backfill", "between", "between_time", "bfill", "bit_count", "bit_length",
    "bool", "boxplot", "byteswap", "capitalize", "casefold", "cat", "ceil", "center",
    "check_for_ordered", "choose", "clip", "combine", "combine_first", "compare", "compress",
    "conj", "conjugate", "contains", "convert_dtypes", "copy", "corr", "corrwith", "count",
    "cov", "ctime", "cumcount", "cummax", "cummin", "cumprod", "cumsum", "date", "day_name",
    "decision_function", "decision_path", "decode", "delete", "describe", "diagonal", "diff",
    "difference", "div", "divide", "divmod", "dot", "drop", "drop_duplicates", "droplevel",
    "dropna", "dst", "dt", "dtypes", "dump", "dumps", "duplicated", "encode", "endswith", "eq",
    "equals", "ewm", "expanding", "expandtabs", "explode", "extract", "extractall", "factorize",
    "ffill", "fillna", "filter", "find", "findall", "first", "first_valid_index", "flatten",
    "floor", "floordiv", "format", "format_map", "from_bytes", "from_codes", "from_dict",
    "from_records", "fromhex", "fromisocalendar", "fromisoformat", "fromordinal",
    "fromtimestamp", "fullmatch", "ge", "get", "get_dummies", "get_feature_names_out",
    "get_group", "get_indexer", "get_indexer_for", "get_indexer_non_unique", "get_level_values",
    "get_loc", "get_params", "get_slice_bound", "get_support", "get_value", "getfield",
    "groupby", "gt", "head", "hex", "hist", "holds_integer", "identical", "idxmax", "idxmin",
    "index", "indexer_at_time", "indexer_between_time", "infer_objects", "info", "interpolate",
    "intersection", "inverse_transform", "is_", "is_boolean", "is_categorical",
    "is_dtype_equal", "is_floating", "is_integer", "is_interval", "is_mixed", "is_numeric",
    "is_object", "is_type_compatible", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
    "isdisjoint", "isetitem", "isidentifier", "isin", "islower", "isna", "isnull", "isnumeric",
    "isocalendar", "isoformat", "isoweekday", "isprintable", "isspace", "issubset",
    "issuperset", "istitle", "isupper", "item", "items", "iteritems", "iterrows", "itertuples",
    "join", "keys", "kneighbors", "kurt", "kurtosis", "last", "last_valid_index", "le", "len",
    "ljust", "lookup", "lower", "lstrip", "lt", "mad", "maketrans", "map", "mask", "match",
    "max", "mean", "median", "melt", "memory_usage", "merge", "min", "mod", "mode",
    "month_name", "mul", "multiply", "ne", "nearest", "newbyteorder", "ngroup", "nlargest",
    "nonzero", "normalize", "notna", "notnull", "now", "nsmallest", "nunique", "ohlc", "pad",
    "pct_change", "pivot", "pivot_table", "plot", "pow", "predict", "predict_log_proba",
    "predict_proba", "prod", "product", "ptp", "quantile", "query", "radd", "rank", "ravel",
    "rdiv", "rdivmod", "reindex", "reindex_like", "remove_categories",
    "remove_unused_categories", "removeprefix", "removesuffix", "rename", "rename_axis",
    "rename_categories", "reorder_categories", "reorder_levels", "repeat", "replace",
    "resample", "reset_index", "reshape", "rfind", "rfloordiv", "rindex", "rjust", "rmod",
    "rmul", "rolling", "round", "rpartition", "rpow", "rsplit", "rstrip", "rsub", "rtruediv",
    "savefig", "score", "score_samples", "searchsorted", "select_dtypes", "sem", "set_axis",
    "set_categories", "set_flags", "set_index", "set_names", "set_ordered", "shift", "show",
    "size", "skew", "slice", "slice_indexer", "slice_locs", "slice_replace", "slice_shift",
    "snap", "sort_index", "sort_values", "sortlevel", "sparse", "split", "splitlines",
    "squeeze", "stack", "staged_predict", "staged_predict_proba", "startswith", "std", "str",
    "strftime", "strip", "strptime", "sub", "subtract", "sum", "swapaxes", "swapcase",
    "swaplevel", "symmetric_difference", "tail", "take", "take_nd", "time", "timestamp",
    "timetuple", "timetz", "title", "to_bytes", "to_clipboard", "to_csv", "to_datetime64",
    "to_dense", "to_dict", "to_excel", "to_feather", "to_flat_index", "to_frame", "to_gbq",
    "to_hdf", "to_html", "to_json", "to_julian_date", "to_latex", "to_list", "to_markdown",
    "to_native_types", "to_numpy", "to_orc", "to_parquet", "to_period", "to_perioddelta",
    "to_pickle", "to_pydatetime", "to_records", "to_series", "to_sql", "to_stata", "to_string",
    "to_timestamp", "to_xarray", "to_xml", "tobytes", "today", "tofile", "tolist", "toordinal",
    "tostring", "trace", "transform", "translate", "transpose", "truediv", "tshift",
    "tz_convert", "tz_localize", "tzname", "union", "union_many", "unique", "unstack", "upper",
    "utcfromtimestamp", "utcnow", "utcoffset", "utctimetuple", "validate", "value_counts",
    "values", "var", "view", "weekday", "where", "wrap", "xs", "zfill",
};

/* Methods whose result shares no object with the receiver: copies, reductions to new
 * values, predictions, text. Views and lazy objects (reshape, T, groupby, rolling, loc,
 * head, values) are not here: changing the receiver changes them. Sorted. */
static const char *const fresh_methods[] = {
    "agg", "aggregate", "all", "any", "apply", "applymap", "argmax", "argmin", "argsort",
    "assign", "astype", "capitalize", "cat", "contains", "copy", "corr", "count", "cov",
    "cummax", "cummin", "cumprod", "cumsum", "decision_function", "decode", "deepcopy",
    "describe", "diff", "drop", "drop_duplicates", "dropna", "duplicated", "encode", "endswith",
    "explode", "extract", "extractall", "factorize", "fillna", "find", "findall",
    "fit_transform", "flatten", "format", "fullmatch", "get_dummies", "idxmax", "idxmin",
    "inverse_transform", "isin", "isna", "isnull", "item", "join", "kurt", "len", "lower",
    "lstrip", "mad", "map", "match", "mean", "median", "melt", "memory_usage", "merge", "mode",
    "nlargest", "notna", "notnull", "nsmallest", "nunique", "pad", "pct_change", "pivot",
    "pivot_table", "predict", "predict_log_proba", "predict_proba", "prod", "quantile", "query",
    "rank", "rename", "replace", "reset_index", "round", "rstrip", "sample", "score",
    "score_samples", "sem", "set_index", "shift", "skew", "sort_index", "sort_values", "split",
    "startswith", "std", "strip", "sum", "title", "to_csv", "to_dict", "to_html", "to_json",
    "to_latex", "to_list", "to_markdown", "to_string", "tolist", "transform", "unique", "upper",
    "value_counts", "var", "zfill",
};

/* Methods that keep no reference to their arguments in the receiver: fitting and scoring
 * (an estimator keeps what it learned, not X), plotting, writing. Names starting with
 * "set_" are taken as keeping none too (ax.set_title("t")). Sorted. */
static const char *const no_keep_methods[] = {
    "annotate", "axhline", "axvline", "bar", "barh", "boxplot", "contour", "contourf",
    "errorbar", "fill_between", "fit", "fit_predict", "fit_transform", "grid", "hexbin",
    "hist", "hist2d", "imshow", "legend", "loglog", "partial_fit", "pcolormesh", "pie",
    "plot", "savefig", "scatter", "semilogx", "semilogy", "step", "stem", "text",
    "tick_params", "to_csv", "to_excel", "to_json", "to_parquet", "to_pickle", "violinplot",
    "write",
};

/* Builtins whose result may hold their arguments' objects. Sorted. */
static const char *const passthrough_builtins[] = {
    "dict", "enumerate", "filter", "frozenset", "getattr", "iter", "list", "map", "max",
    "min", "next", "reversed", "set", "sorted", "tuple", "vars", "zip",
};

/* Sorted. */
static const char *const passthrough_methods[] = {
    "DataFrame", "Series", "asanyarray", "asarray", "atleast_1d", "atleast_2d", "atleast_3d",
    "chain", "cycle", "expand_dims", "islice", "moveaxis", "ravel", "reshape", "squeeze",
    "swapaxes", "transpose", "view",
};

/* Sorted. */
static const char *const linked_results[] = {
    "subplot_mosaic", "subplots",
};

bool nb_known_linked_results(const char *name, size_t len)
{
    return IN(linked_results, name, len);
}

bool nb_known_passthrough_method(const char *name, size_t len)
{
    return IN(passthrough_methods, name, len);
}

bool nb_known_pure_method(const char *name, size_t len)
{
    return IN(pure_methods, name, len);
}

bool nb_known_fresh_method(const char *name, size_t len)
{
    return IN(fresh_methods, name, len);
}

bool nb_known_keeps_no_arguments(const char *name, size_t len)
{
    if (len > 4 && memcmp(name, "set_", 4) == 0)
        return true;
    return IN(pure_methods, name, len) || IN(no_keep_methods, name, len);
}

bool nb_known_passthrough_builtin(const char *name, size_t len)
{
    return IN(passthrough_builtins, name, len);
}

/* ---- Library functions, by canonical path ----------------------------------------- */

/* Functions whose result may be a view of (or hold) their arguments. Sorted. */
static const char *const passthrough_functions[] = {
    "copy.copy", "itertools.chain", "itertools.cycle", "itertools.islice", "numpy.asanyarray",
    "numpy.asarray", "numpy.atleast_1d", "numpy.atleast_2d", "numpy.atleast_3d",
    "numpy.expand_dims", "numpy.moveaxis", "numpy.ravel", "numpy.reshape", "numpy.squeeze",
    "numpy.swapaxes", "numpy.transpose", "pandas.DataFrame", "pandas.Series",
};

bool nb_known_passthrough_function(const char *path)
{
    return IN(passthrough_functions, path, strlen(path));
}

/* Calls that seed a global random generator. Sorted. */
static const char *const seed_calls[] = {
    "keras.utils.set_random_seed", "numpy.random.seed", "numpy.random.set_state",
    "random.seed", "random.setstate", "tensorflow.compat.v1.set_random_seed",
    "tensorflow.keras.utils.set_random_seed", "tensorflow.random.set_seed",
    "tensorflow.set_random_seed", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all",
    "torch.manual_seed",
};

/* Members of numpy.random and random that create generators or read state rather than
 * draw from the global one. Sorted. */
static const char *const rng_non_draws[] = {
    "BitGenerator", "Generator", "MT19937", "PCG64", "PCG64DXSM", "Philox", "Random",
    "RandomState", "SFC64", "SeedSequence", "SystemRandom", "default_rng", "get_state",
    "getstate",
};

/* torch functions that draw from its global generator. Sorted. */
static const char *const torch_draws[] = {
    "bernoulli", "multinomial", "normal", "poisson", "rand", "rand_like", "randint",
    "randint_like", "randn", "randn_like", "randperm",
};

/* Calls that set interpreter state that later cells see. Sorted. */
static const char *const state_calls[] = {
    "locale.setlocale", "logging.basicConfig", "logging.disable", "matplotlib.pyplot.rc",
    "matplotlib.pyplot.rcdefaults", "matplotlib.pyplot.style.use",
    "matplotlib.pyplot.switch_backend", "matplotlib.pyplot.xkcd", "matplotlib.rc",
    "matplotlib.rcdefaults", "matplotlib.style.use", "matplotlib.use", "numpy.set_printoptions",
    "numpy.seterr", "os.chdir", "os.environ.setdefault", "os.environ.update", "os.putenv",
    "os.umask", "pandas.reset_option", "pandas.set_option", "seaborn.reset_defaults",
    "seaborn.reset_orig", "seaborn.set", "seaborn.set_color_codes", "seaborn.set_context",
    "seaborn.set_palette", "seaborn.set_style", "seaborn.set_theme", "sklearn.set_config",
    "sys.path.append", "sys.path.extend", "sys.path.insert", "sys.setrecursionlimit",
    "torch.set_default_dtype", "torch.set_default_tensor_type", "torch.set_num_threads",
    "torch.set_printoptions", "warnings.filterwarnings", "warnings.resetwarnings",
    "warnings.simplefilter",
};

/* Code the analysis cannot see into. Sorted. */
static const char *const dynamic_calls[] = {
    "eval", "exec", "globals", "importlib.reload", "locals", "nb2pipe_runtime.run_script",
    "runpy.run_module",
    "runpy.run_path", "setattr", "vars",
};

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The part of PATH after PREFIX when that part is one more name ("numpy.random.rand"
 * after "numpy.random." is "rand"), else NULL. */
static const char *member_of(const char *path, const char *prefix)
{
    if (!starts_with(path, prefix))
        return NULL;
    const char *rest = path + strlen(prefix);
    return *rest && !strchr(rest, '.') ? rest : NULL;
}

static bool is_global_draw(const char *path)
{
    const char *member = member_of(path, "numpy.random.");
    if (!member)
        member = member_of(path, "random.");
    if (member)
        return !IN(rng_non_draws, member, strlen(member)) && member[0] != '_';
    member = member_of(path, "torch.");
    if (member)
        return IN(torch_draws, member, strlen(member));
    member = member_of(path, "tensorflow.random.");
    return member && strcmp(member, "set_seed") != 0 && strcmp(member, "Generator") != 0;
}

nb_call_class nb_known_call_class(const char *path)
{
    size_t len = strlen(path);
    if (IN(seed_calls, path, len))
        return NB_CALL_SEED;
    if (is_global_draw(path))
        return NB_CALL_DRAW;
    if (IN(state_calls, path, len))
        return NB_CALL_STATE;
    if (IN(dynamic_calls, path, len))
        return NB_CALL_DYNAMIC;
    return NB_CALL_OTHER;
}

bool nb_known_state_store(const char *path)
{
    return strcmp(path, "os.environ") == 0 || strcmp(path, "matplotlib.rcParams") == 0 ||
           strcmp(path, "matplotlib.pyplot.rcParams") == 0 || strcmp(path, "pandas.options") == 0 ||
           starts_with(path, "pandas.options.") || strcmp(path, "sys.path") == 0 ||
           strcmp(path, "numpy.random") == 0;
}

/* Libraries whose functions and estimators may draw from numpy's global generator when
 * no random_state is given. Sorted. */
static const char *const implicit_drawers[] = {
    "catboost", "imblearn", "keras", "lightgbm", "scipy.cluster.vq", "scipy.optimize",
    "scipy.stats", "sklearn", "statsmodels", "tensorflow", "torch", "xgboost",
};

bool nb_known_draws_implicitly(const char *path)
{
    for (size_t i = 0; i < sizeof implicit_drawers / sizeof *implicit_drawers; i++) {
        size_t n = strlen(implicit_drawers[i]);
        if (strncmp(path, implicit_drawers[i], n) == 0 && (path[n] == '\0' || path[n] == '.'))
            return true;
    }
    return false;
}

/* Sorted. */
static const char *const drawing_methods[] = {
    "cross_val_predict", "cross_val_score", "fit", "fit_predict", "fit_resample",
    "fit_transform", "partial_fit", "permutation", "rvs", "sample", "shuffle", "split",
};

bool nb_known_drawing_method(const char *name, size_t len)
{
    return IN(drawing_methods, name, len);
}

/* Sorted. */
static const char *const unpicklable_makers[] = {
    "concurrent.futures.ProcessPoolExecutor", "concurrent.futures.ThreadPoolExecutor",
    "multiprocessing.Pool", "psycopg2.connect", "pymysql.connect", "socket.socket",
    "sqlalchemy.create_engine", "sqlite3.connect", "xgboost.DMatrix", "xgboost.core.DMatrix",
};

bool nb_known_unpicklable(const char *path)
{
    return IN(unpicklable_makers, path, strlen(path));
}

/* ---- Files ------------------------------------------------------------------------- */

typedef struct file_entry {
    const char *name;
    nb_file_call call;
} file_entry;

static int compare_file_entry(const void *k, const void *item)
{
    const key *a = k;
    const char *b = ((const file_entry *)item)->name;
    int c = strncmp(a->s, b, a->len);
    if (c == 0 && b[a->len] != '\0')
        c = -1;
    return c;
}

static nb_file_call find_file_entry(const file_entry *table, size_t n, const char *s, size_t len)
{
    key k = { s, len };
    const file_entry *e = bsearch(&k, table, n, sizeof *table, compare_file_entry);
    return e ? e->call : (nb_file_call){ NB_FILE_NONE, -1, NULL };
}

#define R(pos, kw) { NB_FILE_READ, pos, kw }
#define W(pos, kw) { NB_FILE_WRITE, pos, kw }

/* Library functions that take a path. `open` is decided by its mode (fileio.c). Sorted. */
static const file_entry file_functions[] = {
    { "PIL.Image.open", R(0, "fp") },
    { "cv2.imread", R(0, "filename") },
    { "cv2.imwrite", W(0, "filename") },
    { "glob.glob", R(0, "pathname") },
    { "joblib.dump", W(1, "filename") },
    { "joblib.load", R(0, "filename") },
    { "matplotlib.pyplot.imread", R(0, "fname") },
    { "matplotlib.pyplot.savefig", W(0, "fname") },
    { "nb2pipe_runtime.run_script", R(0, "path") }, /* %run */
    { "numpy.fromfile", R(0, "file") },
    { "numpy.genfromtxt", R(0, "fname") },
    { "numpy.load", R(0, "file") },
    { "numpy.loadtxt", R(0, "fname") },
    { "numpy.save", W(0, "file") },
    { "numpy.savetxt", W(0, "fname") },
    { "numpy.savez", W(0, "file") },
    { "numpy.savez_compressed", W(0, "file") },
    { "os.listdir", R(0, "path") },
    { "os.makedirs", W(0, "name") },
    { "os.mkdir", W(0, "path") },
    { "os.path.exists", R(0, "path") },
    { "os.path.getsize", R(0, "filename") },
    { "os.path.isdir", R(0, "s") },
    { "os.path.isfile", R(0, "path") },
    { "os.remove", W(0, "path") },
    { "os.rename", W(1, "dst") },
    { "os.replace", W(1, "dst") },
    { "os.rmdir", W(0, "path") },
    { "os.scandir", R(0, "path") },
    { "os.unlink", W(0, "path") },
    { "os.walk", R(0, "top") },
    { "pandas.read_csv", R(0, "filepath_or_buffer") },
    { "pandas.read_excel", R(0, "io") },
    { "pandas.read_feather", R(0, "path") },
    { "pandas.read_fwf", R(0, "filepath_or_buffer") },
    { "pandas.read_hdf", R(0, "path_or_buf") },
    { "pandas.read_html", R(0, "io") },
    { "pandas.read_json", R(0, "path_or_buf") },
    { "pandas.read_orc", R(0, "path") },
    { "pandas.read_parquet", R(0, "path") },
    { "pandas.read_pickle", R(0, "filepath_or_buffer") },
    { "pandas.read_sas", R(0, "filepath_or_buffer") },
    { "pandas.read_spss", R(0, "path") },
    { "pandas.read_stata", R(0, "filepath_or_buffer") },
    { "pandas.read_table", R(0, "filepath_or_buffer") },
    { "pandas.read_xml", R(0, "path_or_buffer") },
    { "runpy.run_path", R(0, "path_name") },
    { "shutil.copy", W(1, "dst") },
    { "shutil.copy2", W(1, "dst") },
    { "shutil.copyfile", W(1, "dst") },
    { "shutil.copytree", W(1, "dst") },
    { "shutil.move", W(1, "dst") },
    { "shutil.rmtree", W(0, "path") },
    { "sklearn.tree.export_graphviz", W(1, "out_file") },
    { "urllib.request.urlretrieve", W(1, "filename") },
};

/* Methods that take a path: DataFrame.to_*, Figure.savefig, model.save... pathlib's
 * read_/write_ methods take theirs from the receiver (fileio.c). Sorted. */
static const file_entry file_methods[] = {
    { "dump", W(0, "file") },
    { "load_model", R(0, "fname") },
    { "mkdir", W(-1, NULL) },
    { "read_bytes", R(-1, NULL) },
    { "read_text", R(-1, NULL) },
    { "save", W(0, "filepath") },
    { "save_model", W(0, "fname") },
    { "savefig", W(0, "fname") },
    { "to_csv", W(0, "path_or_buf") },
    { "to_excel", W(0, "excel_writer") },
    { "to_feather", W(0, "path") },
    { "to_hdf", W(0, "path_or_buf") },
    { "to_html", W(0, "buf") },
    { "to_json", W(0, "path_or_buf") },
    { "to_latex", W(0, "buf") },
    { "to_markdown", W(0, "buf") },
    { "to_orc", W(0, "path") },
    { "to_parquet", W(0, "path") },
    { "to_pickle", W(0, "path") },
    { "to_stata", W(0, "path") },
    { "to_string", W(0, "buf") },
    { "to_xml", W(0, "path_or_buffer") },
    { "tofile", W(0, "fid") },
    { "touch", W(-1, NULL) },
    { "write_bytes", W(-1, NULL) },
    { "write_text", W(-1, NULL) },
};

nb_file_call nb_known_file_function(const char *path)
{
    return find_file_entry(file_functions, sizeof file_functions / sizeof *file_functions, path,
                           strlen(path));
}

nb_file_call nb_known_file_method(const char *name, size_t len)
{
    return find_file_entry(file_methods, sizeof file_methods / sizeof *file_methods, name, len);
}
