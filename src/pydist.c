/* Import names versus PyPI distributions: two sorted tables, searched with bsearch.
 *
 * The standard-library table is the output of scripts/gen_stdlib_list.py, which prints
 * sorted(sys.stdlib_module_names) of the interpreter running it (here /usr/bin/python3,
 * Python 3.11), plus the lines marked "hand-added": modules of Python 3.8-3.10 that 3.11
 * no longer has, and modules that 3.12 and 3.13 added. (What 3.12 and 3.13 removed -
 * asynchat, asyncore, distutils, imp, smtpd, lib2to3 and the PEP 594 modules - is still
 * in 3.11's list.) To regenerate:
 *
 *     /usr/bin/python3 scripts/gen_stdlib_list.py
 *
 * then merge the hand-added lines back in, keeping the table sorted by byte value (as
 * strcmp orders it: '_' sorts after the capitals and before the small letters).
 *
 * The distribution table lists only imports whose distribution has another name; an
 * import missing from it is installed under its own name. Names shared by several
 * distributions (google, azure, snowflake, ...) are left out. */
#include "nb2pipe/pydist.h"

#include <stdlib.h>
#include <string.h>

typedef struct key {
    const char *s;
    size_t len;
} key;

typedef struct pair {
    const char *module;
    const char *dist;
} pair;

static const char *const stdlib_names[] = {
    "__future__",
    "_abc",
    "_aix_support",
    "_android_support", /* hand-added: 3.13+ */
    "_ast",
    "_asyncio",
    "_bisect",
    "_blake2",
    "_bootlocale", /* hand-added: 3.8-3.9 */
    "_bootsubprocess",
    "_bz2",
    "_codecs",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_collections",
    "_collections_abc",
    "_colorize", /* hand-added: 3.13+ */
    "_compat_pickle",
    "_compression",
    "_contextvars",
    "_crypt",
    "_csv",
    "_ctypes",
    "_curses",
    "_curses_panel",
    "_datetime",
    "_dbm",
    "_decimal",
    "_dummy_thread", /* hand-added: 3.8 */
    "_elementtree",
    "_frozen_importlib",
    "_frozen_importlib_external",
    "_functools",
    "_gdbm",
    "_hashlib",
    "_heapq",
    "_imp",
    "_interpchannels", /* hand-added: 3.13+ */
    "_interpqueues", /* hand-added: 3.13+ */
    "_interpreters", /* hand-added: 3.13+ */
    "_io",
    "_ios_support", /* hand-added: 3.13+ */
    "_json",
    "_locale",
    "_lsprof",
    "_lzma",
    "_markupbase",
    "_md5",
    "_msi",
    "_multibytecodec",
    "_multiprocessing",
    "_opcode",
    "_opcode_metadata", /* hand-added: 3.13+ */
    "_operator",
    "_osx_support",
    "_overlapped",
    "_pickle",
    "_posixshmem",
    "_posixsubprocess",
    "_py_abc",
    "_pydatetime", /* hand-added: 3.12+ */
    "_pydecimal",
    "_pyio",
    "_pylong", /* hand-added: 3.12+ */
    "_pyrepl", /* hand-added: 3.13+ */
    "_queue",
    "_random",
    "_scproxy",
    "_sha1",
    "_sha2", /* hand-added: 3.12+ */
    "_sha256",
    "_sha3",
    "_sha512",
    "_signal",
    "_sitebuiltins",
    "_socket",
    "_sqlite3",
    "_sre",
    "_ssl",
    "_stat",
    "_statistics",
    "_string",
    "_strptime",
    "_struct",
    "_suggestions", /* hand-added: 3.13+ */
    "_symtable",
    "_sysconfig", /* hand-added: 3.13+ */
    "_thread",
    "_threading_local",
    "_tkinter",
    "_tokenize",
    "_tracemalloc",
    "_typing",
    "_uuid",
    "_warnings",
    "_weakref",
    "_weakrefset",
    "_winapi",
    "_wmi", /* hand-added: 3.12+ */
    "_zoneinfo",
    "abc",
    "aifc",
    "antigravity",
    "argparse",
    "array",
    "ast",
    "asynchat",
    "asyncio",
    "asyncore",
    "atexit",
    "audioop",
    "base64",
    "bdb",
    "binascii",
    "binhex", /* hand-added: 3.8-3.10 */
    "bisect",
    "builtins",
    "bz2",
    "cProfile",
    "calendar",
    "cgi",
    "cgitb",
    "chunk",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "codeop",
    "collections",
    "colorsys",
    "compileall",
    "concurrent",
    "configparser",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "crypt",
    "csv",
    "ctypes",
    "curses",
    "dataclasses",
    "datetime",
    "dbm",
    "decimal",
    "difflib",
    "dis",
    "distutils",
    "doctest",
    "dummy_threading", /* hand-added: 3.8 */
    "email",
    "encodings",
    "ensurepip",
    "enum",
    "errno",
    "faulthandler",
    "fcntl",
    "filecmp",
    "fileinput",
    "fnmatch",
    "formatter", /* hand-added: 3.8-3.9 */
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "genericpath",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "idlelib",
    "imaplib",
    "imghdr",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "lib2to3",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "mailcap",
    "marshal",
    "math",
    "mimetypes",
    "mmap",
    "modulefinder",
    "msilib",
    "msvcrt",
    "multiprocessing",
    "netrc",
    "nis",
    "nntplib",
    "nt",
    "ntpath",
    "nturl2path",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "os",
    "ossaudiodev",
    "parser", /* hand-added: 3.8-3.9 */
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pipes",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "posix",
    "posixpath",
    "pprint",
    "profile",
    "pstats",
    "pty",
    "pwd",
    "py_compile",
    "pyclbr",
    "pydoc",
    "pydoc_data",
    "pyexpat",
    "queue",
    "quopri",
    "random",
    "re",
    "readline",
    "reprlib",
    "resource",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "smtpd",
    "smtplib",
    "sndhdr",
    "socket",
    "socketserver",
    "spwd",
    "sqlite3",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "ssl",
    "stat",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "sunau",
    "symbol", /* hand-added: 3.8-3.9 */
    "symtable",
    "sys",
    "sysconfig",
    "syslog",
    "tabnanny",
    "tarfile",
    "telnetlib",
    "tempfile",
    "termios",
    "textwrap",
    "this",
    "threading",
    "time",
    "timeit",
    "tkinter",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "tty",
    "turtle",
    "turtledemo",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uu",
    "uuid",
    "venv",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "winreg",
    "winsound",
    "wsgiref",
    "xdrlib",
    "xml",
    "xmlrpc",
    "zipapp",
    "zipfile",
    "zipimport",
    "zlib",
    "zoneinfo",
};

static const pair dists[] = {
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

/* strcmp's order between the LEN bytes of K and the NUL-terminated NAME. */
static int order(const key *k, const char *name)
{
    for (size_t i = 0; i < k->len; i++) {
        unsigned char a = (unsigned char)k->s[i], b = (unsigned char)name[i];
        if (!b)
            return 1; /* NAME ends first (K may hold a NUL byte) */
        if (a != b)
            return a < b ? -1 : 1;
    }
    return name[k->len] ? -1 : 0;
}

static int cmp_name(const void *k, const void *elem)
{
    return order(k, *(const char *const *)elem);
}

static int cmp_pair(const void *k, const void *elem)
{
    return order(k, ((const pair *)elem)->module);
}

bool nb_pydist_is_stdlib(const char *module, size_t len)
{
    if (!len)
        return false;
    key k = { module, len };
    return bsearch(&k, stdlib_names, sizeof stdlib_names / sizeof *stdlib_names,
                   sizeof *stdlib_names, cmp_name) != NULL;
}

const char *nb_pydist_distribution(const char *module, size_t len)
{
    if (!len)
        return NULL;
    key k = { module, len };
    const pair *p = bsearch(&k, dists, sizeof dists / sizeof *dists, sizeof *dists, cmp_pair);
    return p ? p->dist : NULL;
}

size_t nb_pydist_stdlib_count(void)
{
    return sizeof stdlib_names / sizeof *stdlib_names;
}

const char *nb_pydist_stdlib_name(size_t i)
{
    return stdlib_names[i];
}

size_t nb_pydist_distribution_count(void)
{
    return sizeof dists / sizeof *dists;
}

void nb_pydist_distribution_entry(size_t i, const char **module, const char **dist)
{
    *module = dists[i].module;
    *dist = dists[i].dist;
}

const char *nb_star_export_name(const nb_star_export *entry)
{
    return nb_stdlib_strings + entry->name;
}

const nb_star_export *nb_pydist_star_names(const char *module, size_t *count)
{
    /* the first entry of MODULE: entries are sorted by module */
    size_t lo = 0, hi = nb_stdlib_exports_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(nb_stdlib_strings + nb_stdlib_exports[mid].module, module) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < nb_stdlib_exports_count &&
           strcmp(nb_stdlib_strings + nb_stdlib_exports[end].module, module) == 0)
        end++;
    *count = end - lo;
    return end > lo ? &nb_stdlib_exports[lo] : NULL;
}
