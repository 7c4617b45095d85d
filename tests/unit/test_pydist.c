/* nb_pydist: the standard-library and import-to-distribution tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nb2pipe/pydist.h"

#include <string.h>

/* Copies of both tables in src/pydist.c. Looking every name up finds them all only
 * when the tables there are sorted, so this also checks the order. */
static const char *const stdlib_names[] = {
    "__future__", "_abc", "_aix_support", "_android_support", "_ast", "_asyncio", "_bisect",
    "_blake2", "_bootlocale", "_bootsubprocess", "_bz2", "_codecs", "_codecs_cn",
    "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw",
    "_collections", "_collections_abc", "_colorize", "_compat_pickle", "_compression",
    "_contextvars", "_crypt", "_csv", "_ctypes", "_curses", "_curses_panel", "_datetime",
    "_dbm", "_decimal", "_dummy_thread", "_elementtree", "_frozen_importlib",
    "_frozen_importlib_external", "_functools", "_gdbm", "_hashlib", "_heapq", "_imp",
    "_interpchannels", "_interpqueues", "_interpreters", "_io", "_ios_support", "_json",
    "_locale", "_lsprof", "_lzma", "_markupbase", "_md5", "_msi", "_multibytecodec",
    "_multiprocessing", "_opcode", "_opcode_metadata", "_operator", "_osx_support",
    "_overlapped", "_pickle", "_posixshmem", "_posixsubprocess", "_py_abc", "_pydatetime",
    "_pydecimal", "_pyio", "_pylong", "_pyrepl", "_queue", "_random", "_scproxy", "_sha1",
    "_sha2", "_sha256", "_sha3", "_sha512", "_signal", "_sitebuiltins", "_socket",
    "_sqlite3", "_sre", "_ssl", "_stat", "_statistics", "_string", "_strptime", "_struct",
    "_suggestions", "_symtable", "_sysconfig", "_thread", "_threading_local", "_tkinter",
    "_tokenize", "_tracemalloc", "_typing", "_uuid", "_warnings", "_weakref", "_weakrefset",
    "_winapi", "_wmi", "_zoneinfo", "abc", "aifc", "antigravity", "argparse", "array",
    "ast", "asynchat", "asyncio", "asyncore", "atexit", "audioop", "base64", "bdb",
    "binascii", "binhex", "bisect", "builtins", "bz2", "cProfile", "calendar", "cgi",
    "cgitb", "chunk", "cmath", "cmd", "code", "codecs", "codeop", "collections", "colorsys",
    "compileall", "concurrent", "configparser", "contextlib", "contextvars", "copy",
    "copyreg", "crypt", "csv", "ctypes", "curses", "dataclasses", "datetime", "dbm",
    "decimal", "difflib", "dis", "distutils", "doctest", "dummy_threading", "email",
    "encodings", "ensurepip", "enum", "errno", "faulthandler", "fcntl", "filecmp",
    "fileinput", "fnmatch", "formatter", "fractions", "ftplib", "functools", "gc",
    "genericpath", "getopt", "getpass", "gettext", "glob", "graphlib", "grp", "gzip",
    "hashlib", "heapq", "hmac", "html", "http", "idlelib", "imaplib", "imghdr", "imp",
    "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword", "lib2to3",
    "linecache", "locale", "logging", "lzma", "mailbox", "mailcap", "marshal", "math",
    "mimetypes", "mmap", "modulefinder", "msilib", "msvcrt", "multiprocessing", "netrc",
    "nis", "nntplib", "nt", "ntpath", "nturl2path", "numbers", "opcode", "operator",
    "optparse", "os", "ossaudiodev", "parser", "pathlib", "pdb", "pickle", "pickletools",
    "pipes", "pkgutil", "platform", "plistlib", "poplib", "posix", "posixpath", "pprint",
    "profile", "pstats", "pty", "pwd", "py_compile", "pyclbr", "pydoc", "pydoc_data",
    "pyexpat", "queue", "quopri", "random", "re", "readline", "reprlib", "resource",
    "rlcompleter", "runpy", "sched", "secrets", "select", "selectors", "shelve", "shlex",
    "shutil", "signal", "site", "smtpd", "smtplib", "sndhdr", "socket", "socketserver",
    "spwd", "sqlite3", "sre_compile", "sre_constants", "sre_parse", "ssl", "stat",
    "statistics", "string", "stringprep", "struct", "subprocess", "sunau", "symbol",
    "symtable", "sys", "sysconfig", "syslog", "tabnanny", "tarfile", "telnetlib",
    "tempfile", "termios", "textwrap", "this", "threading", "time", "timeit", "tkinter",
    "token", "tokenize", "tomllib", "trace", "traceback", "tracemalloc", "tty", "turtle",
    "turtledemo", "types", "typing", "unicodedata", "unittest", "urllib", "uu", "uuid",
    "venv", "warnings", "wave", "weakref", "webbrowser", "winreg", "winsound", "wsgiref",
    "xdrlib", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport", "zlib", "zoneinfo",
};

static const struct {
    const char *module;
    const char *dist;
} dists[] = {
    { "Bio",                        "biopython" },
    { "Crypto",                     "pycryptodome" },
    { "Cryptodome",                 "pycryptodomex" },
    { "IPython",                    "ipython" },
    { "MeCab",                      "mecab-python3" },
    { "MySQLdb",                    "mysqlclient" },
    { "OpenGL",                     "PyOpenGL" },
    { "OpenSSL",                    "pyOpenSSL" },
    { "PIL",                        "Pillow" },
    { "RPi",                        "RPi.GPIO" },
    { "Xlib",                       "python-xlib" },
    { "absl",                       "absl-py" },
    { "airflow",                    "apache-airflow" },
    { "antlr4",                     "antlr4-python3-runtime" },
    { "apache_beam",                "apache-beam" },
    { "apscheduler",                "APScheduler" },
    { "attr",                       "attrs" },
    { "autosklearn",                "auto-sklearn" },
    { "babel",                      "Babel" },
    { "barcode",                    "python-barcode" },
    { "bluetooth",                  "PyBluez" },
    { "boruta",                     "Boruta" },
    { "brotli",                     "Brotli" },
    { "bs4",                        "beautifulsoup4" },
    { "bson",                       "pymongo" },
    { "cairo",                      "pycairo" },
    { "camelot",                    "camelot-py" },
    { "can",                        "python-can" },
    { "cassandra",                  "cassandra-driver" },
    { "charset_normalizer",         "charset-normalizer" },
    { "clickhouse_driver",          "clickhouse-driver" },
    { "community",                  "python-louvain" },
    { "confluent_kafka",            "confluent-kafka" },
    { "corsheaders",                "django-cors-headers" },
    { "cpuinfo",                    "py-cpuinfo" },
    { "crispy_forms",               "django-crispy-forms" },
    { "cv2",                        "opencv-python" },
    { "dateutil",                   "python-dateutil" },
    { "dbus",                       "dbus-python" },
    { "debug_toolbar",              "django-debug-toolbar" },
    { "decouple",                   "python-decouple" },
    { "deep_translator",            "deep-translator" },
    { "deprecated",                 "Deprecated" },
    { "discord",                    "discord.py" },
    { "django",                     "Django" },
    { "dns",                        "dnspython" },
    { "docx",                       "python-docx" },
    { "dotenv",                     "python-dotenv" },
    { "email_validator",            "email-validator" },
    { "engineio",                   "python-engineio" },
    { "factory",                    "factory-boy" },
    { "faiss",                      "faiss-cpu" },
    { "faker",                      "Faker" },
    { "firebase_admin",             "firebase-admin" },
    { "fitz",                       "PyMuPDF" },
    { "flaml",                      "FLAML" },
    { "flask",                      "Flask" },
    { "flask_cors",                 "Flask-Cors" },
    { "flask_login",                "Flask-Login" },
    { "flask_migrate",              "Flask-Migrate" },
    { "flask_restful",              "Flask-RESTful" },
    { "flask_sqlalchemy",           "Flask-SQLAlchemy" },
    { "flask_wtf",                  "Flask-WTF" },
    { "forex_python",               "forex-python" },
    { "gflags",                     "python-gflags" },
    { "gi",                         "PyGObject" },
    { "gin",                        "gin-config" },
    { "git",                        "GitPython" },
    { "github",                     "PyGithub" },
    { "google_auth_oauthlib",       "google-auth-oauthlib" },
    { "googleapiclient",            "google-api-python-client" },
    { "great_expectations",         "great-expectations" },
    { "grpc",                       "grpcio" },
    { "gtts",                       "gTTS" },
    { "guppy",                      "guppy3" },
    { "haiku",                      "dm-haiku" },
    { "huggingface_hub",            "huggingface-hub" },
    { "hydra",                      "hydra-core" },
    { "ignite",                     "pytorch-ignite" },
    { "imblearn",                   "imbalanced-learn" },
    { "impala",                     "impyla" },
    { "importlib_metadata",         "importlib-metadata" },
    { "importlib_resources",        "importlib-resources" },
    { "influxdb_client",            "influxdb-client" },
    { "jinja2",                     "Jinja2" },
    { "jose",                       "python-jose" },
    { "jsonpath_ng",                "jsonpath-ng" },
    { "jupyter_client",             "jupyter-client" },
    { "jupyter_core",               "jupyter-core" },
    { "jwt",                        "PyJWT" },
    { "kafka",                      "kafka-python" },
    { "keras_cv",                   "keras-cv" },
    { "keras_nlp",                  "keras-nlp" },
    { "keras_tuner",                "keras-tuner" },
    { "kerastuner",                 "keras-tuner" },
    { "kivy",                       "Kivy" },
    { "ldap",                       "python-ldap" },
    { "line_profiler",              "line-profiler" },
    { "llama_index",                "llama-index" },
    { "magic",                      "python-magic" },
    { "mako",                       "Mako" },
    { "markdown",                   "Markdown" },
    { "markupsafe",                 "MarkupSafe" },
    { "memcache",                   "python-memcached" },
    { "memory_profiler",            "memory-profiler" },
    { "ml_collections",             "ml-collections" },
    { "more_itertools",             "more-itertools" },
    { "mpl_toolkits",               "matplotlib" },
    { "mysql",                      "mysql-connector-python" },
    { "nacl",                       "PyNaCl" },
    { "newspaper",                  "newspaper3k" },
    { "nmap",                       "python-nmap" },
    { "odf",                        "odfpy" },
    { "osgeo",                      "GDAL" },
    { "paho",                       "paho-mqtt" },
    { "pandas_datareader",          "pandas-datareader" },
    { "pandas_gbq",                 "pandas-gbq" },
    { "pandas_profiling",           "pandas-profiling" },
    { "pdfminer",                   "pdfminer.six" },
    { "pkg_resources",              "setuptools" },
    { "pptx",                       "python-pptx" },
    { "prometheus_client",          "prometheus-client" },
    { "psycopg2",                   "psycopg2-binary" },
    { "pulp",                       "PuLP" },
    { "pyathena",                   "PyAthena" },
    { "pyaudio",                    "PyAudio" },
    { "pyautogui",                  "PyAutoGUI" },
    { "pycrfsuite",                 "python-crfsuite" },
    { "pydrive",                    "PyDrive" },
    { "pyflink",                    "apache-flink" },
    { "pygments",                   "Pygments" },
    { "pyhive",                     "PyHive" },
    { "pympler",                    "Pympler" },
    { "pymysql",                    "PyMySQL" },
    { "pyomo",                      "Pyomo" },
    { "pythoncom",                  "pywin32" },
    { "pytorch_lightning",          "pytorch-lightning" },
    { "pyvisa",                     "PyVISA" },
    { "pywintypes",                 "pywin32" },
    { "pyximport",                  "Cython" },
    { "quandl",                     "Quandl" },
    { "redshift_connector",         "redshift-connector" },
    { "requests_oauthlib",          "requests-oauthlib" },
    { "requests_toolbelt",          "requests-toolbelt" },
    { "rest_framework",             "djangorestframework" },
    { "ruamel",                     "ruamel.yaml" },
    { "scikit_posthocs",            "scikit-posthocs" },
    { "scrapy",                     "Scrapy" },
    { "sentence_transformers",      "sentence-transformers" },
    { "sentry_sdk",                 "sentry-sdk" },
    { "serial",                     "pyserial" },
    { "shapefile",                  "pyshp" },
    { "skimage",                    "scikit-image" },
    { "sklearn",                    "scikit-learn" },
    { "sklearn_crfsuite",           "sklearn-crfsuite" },
    { "skopt",                      "scikit-optimize" },
    { "sksurv",                     "scikit-survival" },
    { "skvideo",                    "scikit-video" },
    { "slack_sdk",                  "slack-sdk" },
    { "slugify",                    "python-slugify" },
    { "smart_open",                 "smart-open" },
    { "snap7",                      "python-snap7" },
    { "snappy",                     "python-snappy" },
    { "socketio",                   "python-socketio" },
    { "socks",                      "PySocks" },
    { "sonnet",                     "dm-sonnet" },
    { "speech_recognition",         "SpeechRecognition" },
    { "sqlalchemy",                 "SQLAlchemy" },
    { "sqlalchemy_utils",           "SQLAlchemy-Utils" },
    { "stable_baselines3",          "stable-baselines3" },
    { "stan",                       "pystan" },
    { "surprise",                   "scikit-surprise" },
    { "tabula",                     "tabula-py" },
    { "talib",                      "TA-Lib" },
    { "telegram",                   "python-telegram-bot" },
    { "tensorflow_addons",          "tensorflow-addons" },
    { "tensorflow_data_validation", "tensorflow-data-validation" },
    { "tensorflow_datasets",        "tensorflow-datasets" },
    { "tensorflow_hub",             "tensorflow-hub" },
    { "tensorflow_io",              "tensorflow-io" },
    { "tensorflow_model_analysis",  "tensorflow-model-analysis" },
    { "tensorflow_probability",     "tensorflow-probability" },
    { "tensorflow_text",            "tensorflow-text" },
    { "tensorflow_transform",       "tensorflow-transform" },
    { "tf_keras",                   "tf-keras" },
    { "tflite_runtime",             "tflite-runtime" },
    { "torch_geometric",            "torch-geometric" },
    { "tortoise",                   "tortoise-orm" },
    { "tpot",                       "TPOT" },
    { "tree",                       "dm-tree" },
    { "twisted",                    "Twisted" },
    { "umap",                       "umap-learn" },
    { "unidecode",                  "Unidecode" },
    { "usb",                        "pyusb" },
    { "vlc",                        "python-vlc" },
    { "websocket",                  "websocket-client" },
    { "werkzeug",                   "Werkzeug" },
    { "whoosh",                     "Whoosh" },
    { "win32api",                   "pywin32" },
    { "win32com",                   "pywin32" },
    { "win32con",                   "pywin32" },
    { "win32gui",                   "pywin32" },
    { "wtforms",                    "WTForms" },
    { "wx",                         "wxPython" },
    { "xlsxwriter",                 "XlsxWriter" },
    { "yaml",                       "PyYAML" },
    { "ydata_profiling",            "ydata-profiling" },
    { "yt_dlp",                     "yt-dlp" },
    { "zmq",                        "pyzmq" },
};

static bool stdlib(const char *name)
{
    return nb_pydist_is_stdlib(name, strlen(name));
}

static const char *dist(const char *name)
{
    return nb_pydist_distribution(name, strlen(name));
}

/* Whether the first LEN bytes of NAME are in the copy, by linear search. */
static bool listed(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof stdlib_names / sizeof *stdlib_names; i++) {
        if (strlen(stdlib_names[i]) == len && !memcmp(stdlib_names[i], name, len))
            return true;
    }
    return false;
}

/* The copy's distribution for the first LEN bytes of NAME, by linear search. */
static const char *mapped(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof dists / sizeof *dists; i++) {
        if (strlen(dists[i].module) == len && !memcmp(dists[i].module, name, len))
            return dists[i].dist;
    }
    return NULL;
}

static void test_stdlib(void **state)
{
    (void)state;
    const char *yes[] = { "os", "sys", "json", "collections", "typing", "__future__",
                          "_thread", "asyncore", "distutils", "imp", "lib2to3", "telnetlib",
                          "tomllib", "cProfile", "binhex", "_pyrepl", "zoneinfo", "abc" };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!stdlib(yes[i]))
            fail_msg("%s should be stdlib", yes[i]);
    }
    const char *no[] = { "numpy", "pandas", "sklearn", "yaml", "requests", "Os", "OS",
                         "o", "oss", "__main__", "_", "zzz", "AAA", "not_a_module" };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (stdlib(no[i]))
            fail_msg("%s should not be stdlib", no[i]);
    }
}

static void test_stdlib_length(void **state)
{
    (void)state;
    assert_true(nb_pydist_is_stdlib("os.path", 2));
    assert_true(nb_pydist_is_stdlib("xml.etree.ElementTree", 3));
    assert_false(nb_pydist_is_stdlib("os.path", 3));
    assert_false(nb_pydist_is_stdlib("osx", 3));
    assert_true(nb_pydist_is_stdlib("osx", 2));
    assert_false(nb_pydist_is_stdlib("sys", 0));
    assert_false(nb_pydist_is_stdlib(NULL, 0));
    assert_false(nb_pydist_is_stdlib("os\0", 3)); /* a NUL byte is part of the name */
    assert_false(nb_pydist_is_stdlib("o\0", 2));
}

static void test_distribution(void **state)
{
    (void)state;
    assert_string_equal(dist("sklearn"), "scikit-learn");
    assert_string_equal(dist("cv2"), "opencv-python");
    assert_string_equal(dist("PIL"), "Pillow");
    assert_string_equal(dist("yaml"), "PyYAML");
    assert_string_equal(dist("bs4"), "beautifulsoup4");
    assert_string_equal(dist("dateutil"), "python-dateutil");
    assert_string_equal(dist("Bio"), "biopython"); /* first entry */
    assert_string_equal(dist("zmq"), "pyzmq"); /* last entry */
    assert_null(dist("numpy"));
    assert_null(dist("pandas"));
    assert_null(dist("not_a_module"));
    assert_null(dist("os"));
    assert_null(dist("pil")); /* case matters */
    assert_null(dist("Levenshtein")); /* same name as its distribution */
}

static void test_distribution_length(void **state)
{
    (void)state;
    assert_null(dist("sklearnx"));
    assert_null(dist("skl"));
    assert_null(dist("sklearn_"));
    assert_string_equal(nb_pydist_distribution("sklearnx", 7), "scikit-learn");
    assert_string_equal(nb_pydist_distribution("sklearn.linear_model", 7), "scikit-learn");
    assert_null(nb_pydist_distribution("sklearn", 6));
    assert_null(nb_pydist_distribution("sklearn", 0));
    assert_null(nb_pydist_distribution(NULL, 0));
    assert_null(nb_pydist_distribution("cv2\0", 4));
    /* sklearn_crfsuite follows sklearn in the table: neither hides the other */
    assert_string_equal(dist("sklearn_crfsuite"), "sklearn-crfsuite");
    assert_string_equal(nb_pydist_distribution("sklearn_crfsuite", 7), "scikit-learn");
}

static void test_every_stdlib_name(void **state)
{
    (void)state;
    size_t n = sizeof stdlib_names / sizeof *stdlib_names;
    assert_true(n > 300);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(stdlib_names[i - 1], stdlib_names[i]) >= 0)
            fail_msg("copy not strictly sorted at %s", stdlib_names[i]);
        if (!stdlib(stdlib_names[i]))
            fail_msg("%s not found", stdlib_names[i]);
        if (dist(stdlib_names[i]))
            fail_msg("stdlib module %s maps to a distribution", stdlib_names[i]);
        /* one byte shorter: found only when that is a module too */
        size_t len = strlen(stdlib_names[i]) - 1;
        if (nb_pydist_is_stdlib(stdlib_names[i], len) != listed(stdlib_names[i], len))
            fail_msg("lookup of the first %zu bytes of %s is wrong", len, stdlib_names[i]);
    }
}

static void test_every_distribution(void **state)
{
    (void)state;
    size_t n = sizeof dists / sizeof *dists;
    assert_true(n >= 80);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(dists[i - 1].module, dists[i].module) >= 0)
            fail_msg("copy not strictly sorted at %s", dists[i].module);
        const char *got = dist(dists[i].module);
        if (!got || strcmp(got, dists[i].dist) != 0)
            fail_msg("%s -> %s, expected %s", dists[i].module, got ? got : "NULL",
                     dists[i].dist);
        if (!strcmp(dists[i].module, dists[i].dist))
            fail_msg("%s maps to itself", dists[i].module);
        if (stdlib(dists[i].module))
            fail_msg("%s is stdlib", dists[i].module);
        /* one byte shorter: "gi" of "gin" and "git" is found, "sklear" of "sklearn" not */
        size_t len = strlen(dists[i].module) - 1;
        const char *want = mapped(dists[i].module, len);
        got = nb_pydist_distribution(dists[i].module, len);
        if (want ? !got || strcmp(got, want) != 0 : got != NULL)
            fail_msg("lookup of the first %zu bytes of %s is wrong", len, dists[i].module);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdlib),
        cmocka_unit_test(test_stdlib_length),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_distribution_length),
        cmocka_unit_test(test_every_stdlib_name),
        cmocka_unit_test(test_every_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
