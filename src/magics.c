#include "nb2pipe/magics.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/writer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- What a line looks like (pcre2) ------------------------------------------------ */

/* The shapes of IPython syntax at the start of a statement, tried in this order.
 * Named groups: indent, target (of an assignment), name (of a magic), rest. */
enum shape {
    SHAPE_CELL_MAGIC,
    SHAPE_ASSIGN_SHELL,
    SHAPE_ASSIGN_MAGIC,
    SHAPE_SHELL_CAPTURE,
    SHAPE_SHELL,
    SHAPE_LINE_MAGIC,
    SHAPE_HELP,
    SHAPE_COUNT
};

#define TARGETS "(?<target>[A-Za-z_][\\w.]*(?:[ \\t]*,[ \\t]*[A-Za-z_][\\w.]*)*)"

static const char *const shape_patterns[SHAPE_COUNT] = {
    [SHAPE_CELL_MAGIC] = "^(?<indent>)%%(?<name>[A-Za-z_][\\w]*)(?<rest>.*)$",
    [SHAPE_ASSIGN_SHELL] = "^(?<indent>[ \\t]*)" TARGETS "[ \\t]*=[ \\t]*!(?<rest>.*)$",
    [SHAPE_ASSIGN_MAGIC] =
        "^(?<indent>[ \\t]*)" TARGETS "[ \\t]*=[ \\t]*%(?<name>[A-Za-z_]\\w*)(?<rest>.*)$",
    [SHAPE_SHELL_CAPTURE] = "^(?<indent>[ \\t]*)!!(?<rest>.*)$",
    [SHAPE_SHELL] = "^(?<indent>[ \\t]*)!(?<rest>.*)$",
    [SHAPE_LINE_MAGIC] = "^(?<indent>[ \\t]*)%(?<name>%?[A-Za-z_]\\w*)(?<rest>.*)$",
    [SHAPE_HELP] = "^(?<indent>[ \\t]*)(?<rest>\\?{1,2}[\\w.*%]+|[\\w.*%]+\\?{1,2})[ \\t]*$",
};

/* A shell command that only installs packages: its arguments feed requirements.txt. */
static const char install_pattern[] =
    "^[ \\t]*(?:(?:\\{sys\\.executable\\}|\\S*python[\\d.]*)[ \\t]+-m[ \\t]+)?"
    "(?:pip3?|conda|mamba)[ \\t]+install(?<rest>.*)$";

/* Inside {...} in a shell command: what IPython would evaluate as Python. */
static const char interpolation_pattern[] =
    "^[A-Za-z_][\\w]*(?:\\.[A-Za-z_]\\w*|\\[[^\\]\\s{}]*\\]|\\([^)\\s{}]*\\))*$";

struct nb_magics {
    pcre2_code *shapes[SHAPE_COUNT];
    pcre2_code *install;
    pcre2_code *interpolation;
};

static pcre2_code *compile(const char *pattern)
{
    int err;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                                   &err, &offset, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        fprintf(stderr, "nb2pipe: internal error: pattern %s: %s at %zu\n", pattern,
                (const char *)msg, (size_t)offset);
        abort();
    }
    return re;
}

nb_magics *nb_magics_new(void)
{
    nb_magics *m = nb_xcalloc(1, sizeof *m);
    for (int i = 0; i < SHAPE_COUNT; i++)
        m->shapes[i] = compile(shape_patterns[i]);
    m->install = compile(install_pattern);
    m->interpolation = compile(interpolation_pattern);
    return m;
}

void nb_magics_free(nb_magics *m)
{
    if (!m)
        return;
    for (int i = 0; i < SHAPE_COUNT; i++)
        pcre2_code_free(m->shapes[i]);
    pcre2_code_free(m->install);
    pcre2_code_free(m->interpolation);
    free(m);
}

/* A piece of the line being looked at. */
typedef struct span {
    const char *s;
    size_t len;
} span;

/* The named groups of a match; absent groups are empty spans. */
typedef struct line_match {
    span indent, target, name, rest;
} line_match;

static span group(const pcre2_code *re, pcre2_match_data *md, const char *subject,
                  const char *name)
{
    int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    if (n < 0)
        return (span){ subject, 0 };
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[2 * n] == PCRE2_UNSET)
        return (span){ subject, 0 };
    return (span){ subject + ov[2 * n], ov[2 * n + 1] - ov[2 * n] };
}

static bool match(const pcre2_code *re, const char *s, size_t len, line_match *out)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    if (rc >= 0 && out) {
        out->indent = group(re, md, s, "indent");
        out->target = group(re, md, s, "target");
        out->name = group(re, md, s, "name");
        out->rest = group(re, md, s, "rest");
    }
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* ---- What each magic means (the table) ------------------------------------------- */

enum translator {
    T_COMMENT,       /* comment the line out */
    T_STATEMENT,     /* keep the Python statement after the magic's name */
    T_SHELL,         /* run the rest as a shell command */
    T_SHELL_ALIAS,   /* the magic's name and the rest form a shell command (%ls -l) */
    T_SHELL_CAPTURE, /* run the rest as a shell command, result = its output lines */
    T_INSTALL,       /* %pip install: record packages */
    T_CD,
    T_ENV,
    T_RUN,
    T_PYLAB,
    T_PWD,
    C_KEEP_BODY, /* cell magics: the body is Python and runs once */
    C_SCRIPT,    /* the body is a script for another interpreter */
    C_WRITEFILE,
    C_COMMENT, /* comment the whole cell out */
};

typedef struct magic_rule {
    const char *name;
    bool cell;
    nb_magic_action action;
    enum translator how;
    const char *why;
} magic_rule;

/* IPython's shell aliases: the command, with %l where the arguments go. */
static const struct {
    const char *name;
    const char *command;
} shell_aliases[] = {
    { "ls", "ls %l" },
    { "ll", "ls -F -o --color %l" },
    { "lf", "ls -F -o --color %l | grep ^-" },
    { "lk", "ls -F -o --color %l | grep ^l" },
    { "lx", "ls -F -o --color %l | grep ^-..x" },
    { "ldir", "ls -F -o --color %l | grep /$" },
    { "cat", "cat %l" },
    { "cp", "cp %l" },
    { "mv", "mv %l" },
    { "rm", "rm %l" },
    { "rmdir", "rmdir %l" },
    { "mkdir", "mkdir %l" },
};

static const char display_only[] = "affects only display or the interactive session";

static const magic_rule rules[] = {
    /* cell magics */
    { "time", true, NB_MAGIC_KEPT, C_KEEP_BODY, "timing only; the body runs" },
    { "timeit", true, NB_MAGIC_KEPT, C_KEEP_BODY, "timing only; the body runs once" },
    { "prun", true, NB_MAGIC_KEPT, C_KEEP_BODY, "profiling only; the body runs" },
    { "capture", true, NB_MAGIC_KEPT, C_KEEP_BODY, "output capture only; the body runs" },
    { "bash", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with bash" },
    { "sh", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with sh" },
    { "script", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with the named program" },
    { "perl", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with perl" },
    { "ruby", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with ruby" },
    { "python", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell in a separate python" },
    { "python2", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell in a separate python2" },
    { "python3", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell in a separate python3" },
    { "pypy", true, NB_MAGIC_TRANSLATED, C_SCRIPT, "runs the cell with pypy" },
    { "writefile", true, NB_MAGIC_TRANSLATED, C_WRITEFILE, "writes the cell to a file" },
    { "file", true, NB_MAGIC_TRANSLATED, C_WRITEFILE, "writes the cell to a file" },
    { "html", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "HTML", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "javascript", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "js", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "latex", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "markdown", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "svg", true, NB_MAGIC_DROPPED, C_COMMENT, "display only" },
    { "sql", true, NB_MAGIC_UNSUPPORTED, C_COMMENT,
      "SQL cells need a database connection nb2pipe cannot translate; rewrite the cell with "
      "pandas.read_sql" },
    /* line magics */
    { "time", false, NB_MAGIC_KEPT, T_STATEMENT, "timing only; the statement runs" },
    { "prun", false, NB_MAGIC_KEPT, T_STATEMENT, "profiling only; the statement runs" },
    { "timeit", false, NB_MAGIC_DROPPED, T_COMMENT, "benchmark only; runs in its own scope" },
    { "matplotlib", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "load_ext", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "reload_ext", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "unload_ext", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "autoreload", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "aimport", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "config", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "precision", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pprint", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "xmode", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pdb", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "debug", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "who", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "whos", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "who_ls", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "lsmagic", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "magic", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "history", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "hist", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "page", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pinfo", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pinfo2", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pdoc", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pdef", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "psource", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "pfile", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "psearch", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "colors", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "automagic", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "autocall", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "autosave", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "autoawait", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "doctest_mode", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "qtconsole", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "connect_info", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "notebook", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "gui", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "logstart", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "logstop", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "logon", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "logoff", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "logstate", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "clear", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "dhist", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "bookmark", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "alias", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "unalias", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "alias_magic", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "rehashx", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "tb", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "killbgscripts", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "watermark", false, NB_MAGIC_DROPPED, T_COMMENT, display_only },
    { "store", false, NB_MAGIC_DROPPED, T_COMMENT,
      "IPython's database is not available to pipeline steps; values flow between steps "
      "by themselves" },
    { "reset", false, NB_MAGIC_DROPPED, T_COMMENT,
      "each step starts with a fresh namespace" },
    { "reset_selective", false, NB_MAGIC_DROPPED, T_COMMENT,
      "each step starts with a fresh namespace" },
    { "pip", false, NB_MAGIC_REQUIREMENT, T_INSTALL, "packages go to requirements.txt" },
    { "conda", false, NB_MAGIC_REQUIREMENT, T_INSTALL, "packages go to requirements.txt" },
    { "mamba", false, NB_MAGIC_REQUIREMENT, T_INSTALL, "packages go to requirements.txt" },
    { "cd", false, NB_MAGIC_TRANSLATED, T_CD, "os.chdir" },
    { "env", false, NB_MAGIC_TRANSLATED, T_ENV, "os.environ" },
    { "set_env", false, NB_MAGIC_TRANSLATED, T_ENV, "os.environ" },
    { "run", false, NB_MAGIC_TRANSLATED, T_RUN, "nb2pipe_runtime.run_script" },
    { "pylab", false, NB_MAGIC_TRANSLATED, T_PYLAB, "the imports %pylab makes" },
    { "pwd", false, NB_MAGIC_TRANSLATED, T_PWD, "os.getcwd" },
    { "sx", false, NB_MAGIC_TRANSLATED, T_SHELL_CAPTURE, "subprocess.run" },
    { "system", false, NB_MAGIC_TRANSLATED, T_SHELL_CAPTURE, "subprocess.run" },
    { "ls", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "ll", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "lf", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "lk", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "lx", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "ldir", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "cat", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "cp", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "mv", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "rm", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "rmdir", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
    { "mkdir", false, NB_MAGIC_TRANSLATED, T_SHELL_ALIAS, "subprocess.run" },
};

static const magic_rule unknown_cell_magic = {
    NULL, true, NB_MAGIC_UNSUPPORTED, C_COMMENT, "unknown cell magic; the cell is commented out"
};
static const magic_rule unknown_line_magic = {
    NULL, false, NB_MAGIC_UNSUPPORTED, T_COMMENT, "unknown magic; the line is commented out"
};
static const magic_rule shell_rule = {
    "!", false, NB_MAGIC_TRANSLATED, T_SHELL, "subprocess.run"
};
static const magic_rule shell_capture_rule = {
    "!!", false, NB_MAGIC_TRANSLATED, T_SHELL_CAPTURE, "subprocess.run"
};
static const magic_rule assign_shell_rule = {
    "!", false, NB_MAGIC_TRANSLATED, T_SHELL_CAPTURE, "subprocess.run"
};
static const magic_rule help_rule = { "?", false, NB_MAGIC_DROPPED, T_COMMENT, "help only" };

static const magic_rule *find_rule(span name, bool cell)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].cell == cell && strlen(rules[i].name) == name.len &&
            memcmp(rules[i].name, name.s, name.len) == 0)
            return &rules[i];
    return cell ? &unknown_cell_magic : &unknown_line_magic;
}

/* ---- Results --------------------------------------------------------------------- */

void nb_magic_result_init(nb_magic_result *res)
{
    memset(res, 0, sizeof *res);
    nb_buf_init(&res->python);
}

static void free_packages(nb_magic_result *res)
{
    for (size_t i = 0; i < res->npackages; i++)
        free(res->packages[i]);
    res->npackages = 0;
}

void nb_magic_result_release(nb_magic_result *res)
{
    nb_buf_release(&res->python);
    free(res->magics);
    free_packages(res);
    free(res->packages);
    nb_magic_result_init(res);
}

const char *nb_magic_action_name(nb_magic_action action)
{
    switch (action) {
    case NB_MAGIC_KEPT: return "kept";
    case NB_MAGIC_DROPPED: return "dropped";
    case NB_MAGIC_TRANSLATED: return "translated";
    case NB_MAGIC_REQUIREMENT: return "requirement";
    case NB_MAGIC_UNSUPPORTED: return "unsupported";
    }
    return "?";
}

/* ---- Translation ----------------------------------------------------------------- */

/* One line being translated. */
typedef struct line_ctx {
    const nb_magics *m;
    nb_magic_result *res;
    span line; /* without its newline */
    line_match parts;
    int line_no;
    const char *sigil; /* "%", "%%", "!", "!!", "?" */
} line_ctx;

static span trim(span s)
{
    while (s.len && (s.s[0] == ' ' || s.s[0] == '\t'))
        s.s++, s.len--;
    while (s.len && (s.s[s.len - 1] == ' ' || s.s[s.len - 1] == '\t' || s.s[s.len - 1] == '\r'))
        s.len--;
    return s;
}

/* Whether S holds WORD as a whitespace-separated word. */
static bool span_has_word(span s, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= s.len; i++) {
        bool start = i == 0 || s.s[i - 1] == ' ' || s.s[i - 1] == '\t';
        bool end = i + n == s.len || s.s[i + n] == ' ' || s.s[i + n] == '\t';
        if (start && end && memcmp(s.s + i, word, n) == 0)
            return true;
    }
    return false;
}

static nb_magic *record(line_ctx *c, const magic_rule *rule, nb_magic_action action)
{
    nb_magic_result *res = c->res;
    res->magics = nb_xgrow(res->magics, &res->magics_cap, res->nmagics + 1, sizeof *res->magics);
    nb_magic *mg = &res->magics[res->nmagics++];
    memset(mg, 0, sizeof *mg);
    mg->line = c->line_no;
    mg->col = (int)c->parts.indent.len + 1;
    if (c->parts.target.len) {
        /* point at the sigil after "x = " */
        const char *sigil_at = c->parts.rest.s - 1;
        if (c->parts.name.len)
            sigil_at = c->parts.name.s - 1;
        mg->col = (int)(sigil_at - c->line.s) + 1;
    }
    const char *name = rule->name;
    if (name && strcmp(c->sigil, "!") != 0 && strcmp(c->sigil, "!!") != 0 &&
        strcmp(c->sigil, "?") != 0)
        snprintf(mg->name, sizeof mg->name, "%s%s", c->sigil, name);
    else if (name)
        snprintf(mg->name, sizeof mg->name, "%s", name);
    else
        snprintf(mg->name, sizeof mg->name, "%s%.*s", c->sigil,
                 (int)(c->parts.name.len < 32 ? c->parts.name.len : 32), c->parts.name.s);
    mg->action = action;
    mg->why = rule->why;
    return mg;
}

static void add_indent(line_ctx *c)
{
    nb_buf_add(&c->res->python, c->parts.indent.s, c->parts.indent.len);
}

/* The original line as a trailing comment, so a reader of the script sees the source. */
static void add_origin_comment(line_ctx *c)
{
    span original = trim(c->line);
    nb_buf_puts(&c->res->python, "  # ");
    nb_buf_add(&c->res->python, original.s, original.len);
}

/* Replaces the line by a comment. In an indented block a bare comment could leave the
 * block empty, so a `pass` keeps it valid. */
static void comment_out(line_ctx *c, nb_magic_action action)
{
    span original = trim(c->line);
    add_indent(c);
    if (c->parts.indent.len)
        nb_buf_puts(&c->res->python, "pass  ");
    nb_buf_printf(&c->res->python, "# %s: ", nb_magic_action_name(action));
    nb_buf_add(&c->res->python, original.s, original.len);
}

static bool is_name_start(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* A command after IPython's variable expansion: literal text and interpolated
 * expressions, in order. */
typedef struct segment {
    bool expr;
    size_t start, len; /* in the expansion's text */
} segment;

typedef struct expansion {
    nb_buf text; /* literal parts decoded ({{ -> {), expressions as written */
    segment *segs;
    size_t nsegs, cap;
    bool interpolated;
    bool has_double_quote; /* inside an interpolation: the f-string needs ' quotes */
    bool has_single_quote;
} expansion;

static void add_segment(expansion *e, bool expr, const char *s, size_t len)
{
    if (!expr && e->nsegs && !e->segs[e->nsegs - 1].expr) {
        e->segs[e->nsegs - 1].len += len; /* extend the literal run */
    } else {
        e->segs = nb_xgrow(e->segs, &e->cap, e->nsegs + 1, sizeof *e->segs);
        e->segs[e->nsegs++] = (segment){ expr, e->text.len, len };
    }
    nb_buf_add(&e->text, s, len);
}

static void literal_char(expansion *e, char ch)
{
    add_segment(e, false, &ch, 1);
}

static void interpolate(expansion *e, const char *expr, size_t len)
{
    add_segment(e, true, expr, len);
    e->interpolated = true;
    e->has_double_quote = e->has_double_quote || memchr(expr, '"', len);
    e->has_single_quote = e->has_single_quote || memchr(expr, '\'', len);
}

/* IPython's expansion of a shell command or magic argument: {expr} (a name, attribute,
 * index or call) and $name become interpolations; {{ }} are literal braces; $$name is a
 * literal $name while a lone $$ stays (the shell's PID); ${NAME} and $NAME in capitals
 * are left to the shell; nothing is expanded inside single quotes but braces. Braces
 * around anything else stay literal, as IPython leaves what it cannot evaluate. */
static void expand(const nb_magics *m, span cmd, expansion *e)
{
    bool in_single = false;
    size_t i = 0;
    while (i < cmd.len) {
        char ch = cmd.s[i];
        char next = i + 1 < cmd.len ? cmd.s[i + 1] : '\0';
        if (ch == '\'')
            in_single = !in_single;
        if ((ch == '{' || ch == '}') && next == ch) {
            literal_char(e, ch);
            i += 2;
            continue;
        }
        if (ch == '{' && !(i > 0 && cmd.s[i - 1] == '$')) {
            const char *close = memchr(cmd.s + i, '}', cmd.len - i);
            size_t len = close ? (size_t)(close - cmd.s - i - 1) : 0;
            if (close && match(m->interpolation, cmd.s + i + 1, len, NULL)) {
                interpolate(e, cmd.s + i + 1, len);
                i += len + 2;
                continue;
            }
        }
        if (ch == '$' && next == '$' && i + 2 < cmd.len && is_name_start(cmd.s[i + 2])) {
            literal_char(e, '$');
            i += 2;
            continue;
        }
        if (ch == '$' && !in_single && (next == '_' || (next >= 'a' && next <= 'z'))) {
            size_t end = i + 1;
            while (end < cmd.len && is_name_char(cmd.s[end]))
                end++;
            interpolate(e, cmd.s + i + 1, end - i - 1);
            i = end;
            continue;
        }
        literal_char(e, ch);
        i++;
    }
}

/* Appends CMD as a Python expression for the command IPython would run (see expand). */
static void add_command_expr(const nb_magics *m, nb_buf *out, span cmd)
{
    expansion e = { .text = NB_BUF_INIT };
    expand(m, cmd, &e);
    if (!e.interpolated || (e.has_double_quote && e.has_single_quote)) {
        /* nothing live (or an f-string could not hold both quotes before Python 3.12):
         * a plain string of the literal text */
        nb_buf literal = NB_BUF_INIT;
        for (size_t i = 0; i < e.nsegs; i++) {
            if (e.segs[i].expr)
                nb_buf_putc(&literal, '{');
            nb_buf_add(&literal, e.text.data + e.segs[i].start, e.segs[i].len);
            if (e.segs[i].expr)
                nb_buf_putc(&literal, '}');
        }
        nb_write_py_string(out, literal.data, literal.len);
        nb_buf_release(&literal);
    } else {
        char quote = e.has_double_quote ? '\'' : '"';
        nb_buf_putc(out, 'f');
        nb_buf_putc(out, quote);
        for (size_t i = 0; i < e.nsegs; i++) {
            const char *text = e.text.data + e.segs[i].start;
            if (e.segs[i].expr) {
                nb_buf_putc(out, '{');
                nb_buf_add(out, text, e.segs[i].len);
                nb_buf_putc(out, '}');
            } else {
                nb_write_py_fstring_text(out, text, e.segs[i].len, quote);
            }
        }
        nb_buf_putc(out, quote);
    }
    nb_buf_release(&e.text);
    free(e.segs);
}

/* Splits shell words (quotes removed) from S, for install arguments and %%script. */
static size_t next_word(span s, size_t i, nb_buf *word)
{
    nb_buf_reset(word);
    while (i < s.len && (s.s[i] == ' ' || s.s[i] == '\t'))
        i++;
    if (i < s.len && s.s[i] == '#')
        return s.len; /* a shell comment ends the command */
    char quote = 0;
    for (; i < s.len; i++) {
        char ch = s.s[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
            else
                nb_buf_putc(word, ch);
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == ' ' || ch == '\t') {
            break;
        } else {
            nb_buf_putc(word, ch);
        }
    }
    return i;
}

/* pip options whose value is the next word. */
static bool option_takes_value(const char *opt)
{
    static const char *const with_value[] = {
        "-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
        "--upgrade-strategy", "--platform", "--python-version", "--implementation", "--abi",
        "--no-binary", "--only-binary",
        "--src", "--progress-bar", "--trusted-host", "--cache-dir", "--log", "--proxy",
        "--timeout", "--retries", "--exists-action", "--cert", "--client-cert", "-c",
        "--channel", "-n", "--name", "-p", NULL
    };
    for (size_t i = 0; with_value[i]; i++)
        if (strcmp(opt, with_value[i]) == 0)
            return true;
    return false;
}

static void add_package(nb_magic_result *res, const char *spec)
{
    res->packages = nb_xgrow(res->packages, &res->packages_cap, res->npackages + 1,
                             sizeof *res->packages);
    res->packages[res->npackages++] = nb_xstrdup(spec);
}

/* Whether CMD holds shell syntax outside quotes (;, &, |, <, >, `, $( ) or anything
 * IPython expands ({expr}, $name): then it does more than install known packages, and
 * runs as a shell command. */
static bool has_shell_operators(span cmd)
{
    char quote = 0;
    for (size_t i = 0; i < cmd.len; i++) {
        char ch = cmd.s[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '#' && (i == 0 || cmd.s[i - 1] == ' ' || cmd.s[i - 1] == '\t')) {
            return false; /* the rest is a comment */
        } else if (strchr(";&|<>`", ch)) {
            return true;
        }
        if (ch == '$' || ch == '{')
            return true; /* expanded by IPython, even inside quotes */
    }
    return false;
}

/* Records the packages of an install command ARGS (what follows "install"). */
static void record_packages(nb_magic_result *res, span args)
{
    nb_buf word = NB_BUF_INIT;
    size_t i = 0;
    while ((i = next_word(args, i, &word)), word.len > 0) {
        if (strcmp(word.data, "-e") == 0 || strcmp(word.data, "--editable") == 0) {
            /* an editable install is a requirements line of its own: -e URL */
            i = next_word(args, i, &word);
            if (word.len) {
                nb_buf line = NB_BUF_INIT;
                nb_buf_printf(&line, "-e %s", word.data);
                add_package(res, line.data);
                nb_buf_release(&line);
            }
            continue;
        }
        if (word.data[0] == '-') {
            if (option_takes_value(word.data))
                i = next_word(args, i, &word);
            continue;
        }
        add_package(res, word.data);
    }
    nb_buf_release(&word);
}

static void translate_shell(line_ctx *c, span cmd, bool capture)
{
    nb_buf *py = &c->res->python;
    add_indent(c);
    if (c->parts.target.len) {
        nb_buf_add(py, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(py, " = ");
    }
    /* __import__ binds no name: `import subprocess` inside a function would make the
     * name local to all of it */
    if (capture) { /* like IPython's getoutput: stdout and stderr, by line, no raise */
        nb_buf_puts(py, "__import__(\"subprocess\").getoutput(");
        add_command_expr(c->m, py, trim(cmd));
        nb_buf_puts(py, ").splitlines()");
    } else {
        nb_buf_puts(py, "__import__(\"subprocess\").run(");
        add_command_expr(c->m, py, trim(cmd));
        nb_buf_puts(py, ", shell=True, check=False)"); /* IPython goes on after a failing !cmd */
    }
    add_origin_comment(c);
}

/* A shell command: a package installation feeds requirements.txt, anything else runs. */
static nb_magic_action translate_shell_line(line_ctx *c, span cmd, bool capture)
{
    line_match inst;
    if (!c->parts.target.len && match(c->m->install, cmd.s, cmd.len, &inst) &&
        !has_shell_operators(inst.rest)) {
        record_packages(c->res, inst.rest);
        comment_out(c, NB_MAGIC_REQUIREMENT);
        return NB_MAGIC_REQUIREMENT;
    }
    translate_shell(c, cmd, capture);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_install(line_ctx *c)
{
    span rest = trim(c->parts.rest);
    nb_buf word = NB_BUF_INIT;
    size_t after = next_word(rest, 0, &word);
    bool install = strcmp(word.data, "install") == 0;
    nb_buf_release(&word);
    if (!install || c->parts.target.len) {
        comment_out(c, NB_MAGIC_DROPPED);
        return NB_MAGIC_DROPPED;
    }
    record_packages(c->res, (span){ rest.s + after, rest.len - after });
    comment_out(c, NB_MAGIC_REQUIREMENT);
    return NB_MAGIC_REQUIREMENT;
}

static nb_magic_action translate_statement(line_ctx *c)
{
    span stmt = trim(c->parts.rest);
    while (stmt.len && stmt.s[0] == '-') { /* options such as %prun -s cumtime */
        nb_buf word = NB_BUF_INIT;
        size_t after = next_word(stmt, 0, &word);
        bool takes_value = word.len == 2 && strchr("sTDl", word.data[1]); /* IPython: D:l:rs:T:q */
        if (takes_value)
            after = next_word(stmt, after, &word);
        nb_buf_release(&word);
        stmt = trim((span){ stmt.s + after, stmt.len - after });
    }
    if (!stmt.len) {
        comment_out(c, NB_MAGIC_DROPPED);
        return NB_MAGIC_DROPPED;
    }
    add_indent(c);
    if (c->parts.target.len) {
        nb_buf_add(&c->res->python, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(&c->res->python, " = ");
    }
    nb_buf_add(&c->res->python, stmt.s, stmt.len);
    add_origin_comment(c);
    return NB_MAGIC_KEPT;
}

static nb_magic_action translate_cd(line_ctx *c)
{
    span dir = trim(c->parts.rest);
    if (dir.len >= 2 && memcmp(dir.s, "-q", 2) == 0)
        dir = trim((span){ dir.s + 2, dir.len - 2 });
    if (c->parts.target.len || (dir.len && dir.s[0] == '-')) {
        comment_out(c, NB_MAGIC_UNSUPPORTED);
        return NB_MAGIC_UNSUPPORTED;
    }
    /* %cd "my data": IPython removes the quotes */
    if (dir.len >= 2 && (dir.s[0] == '"' || dir.s[0] == '\'') && dir.s[dir.len - 1] == dir.s[0])
        dir = (span){ dir.s + 1, dir.len - 2 };
    add_indent(c);
    nb_buf_puts(&c->res->python, "__import__(\"os\").chdir(__import__(\"os\").path.expanduser(");
    if (dir.len)
        add_command_expr(c->m, &c->res->python, dir);
    else
        nb_buf_puts(&c->res->python, "\"~\"");
    nb_buf_puts(&c->res->python, "))");
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_env(line_ctx *c)
{
    span arg = trim(c->parts.rest);
    size_t name_end = 0;
    while (name_end < arg.len && arg.s[name_end] != '=' && arg.s[name_end] != ' ' &&
           arg.s[name_end] != '\t')
        name_end++;
    span name = { arg.s, name_end };
    span value = trim((span){ arg.s + name_end, arg.len - name_end });
    if (value.len && value.s[0] == '=')
        value = trim((span){ value.s + 1, value.len - 1 });
    bool assigns = name.len && name_end < arg.len;
    nb_buf *py = &c->res->python;
    if (c->parts.target.len && name.len && !assigns) { /* home = %env HOME */
        add_indent(c);
        nb_buf_add(py, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(py, " = __import__(\"os\").environ[");
        nb_write_py_string(py, name.s, name.len);
        nb_buf_putc(py, ']');
        add_origin_comment(c);
        return NB_MAGIC_TRANSLATED;
    }
    if (!assigns || c->parts.target.len) { /* %env or %env NAME only show values */
        comment_out(c, c->parts.target.len ? NB_MAGIC_UNSUPPORTED : NB_MAGIC_DROPPED);
        return c->parts.target.len ? NB_MAGIC_UNSUPPORTED : NB_MAGIC_DROPPED;
    }
    add_indent(c);
    nb_buf_puts(py, "__import__(\"os\").environ[");
    nb_write_py_string(py, name.s, name.len);
    nb_buf_puts(py, "] = ");
    add_command_expr(c->m, py, value);
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_run(line_ctx *c)
{
    span path = trim(c->parts.rest);
    bool simple = path.len && path.s[0] != '-' && !memchr(path.s, ' ', path.len) &&
                  !memchr(path.s, '\t', path.len) &&
                  !(path.len > 6 && memcmp(path.s + path.len - 6, ".ipynb", 6) == 0);
    if (!simple || c->parts.target.len) {
        comment_out(c, NB_MAGIC_UNSUPPORTED);
        return NB_MAGIC_UNSUPPORTED;
    }
    add_indent(c);
    /* the runtime runs it as IPython does: an error in the script is printed, not
     * raised, and the names bound before it still reach the notebook */
    nb_buf_puts(&c->res->python, "globals().update(__import__(\"nb2pipe_runtime\").run_script(");
    add_command_expr(c->m, &c->res->python, path);
    nb_buf_puts(&c->res->python, "))");
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_pylab(line_ctx *c)
{
    if (c->parts.indent.len || c->parts.target.len) { /* import * is only legal at top level */
        comment_out(c, NB_MAGIC_UNSUPPORTED);
        return NB_MAGIC_UNSUPPORTED;
    }
    nb_buf_puts(&c->res->python, "import numpy; import matplotlib; "
                                 "from matplotlib import pylab, mlab, pyplot; np = numpy; "
                                 "plt = pyplot");
    if (!span_has_word(c->parts.rest, "--no-import-all"))
        nb_buf_puts(&c->res->python, "; from pylab import *; from numpy import *");
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_pwd(line_ctx *c)
{
    add_indent(c);
    if (c->parts.target.len) {
        nb_buf_add(&c->res->python, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(&c->res->python, " = ");
    }
    nb_buf_puts(&c->res->python, "__import__(\"os\").getcwd()");
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_line(line_ctx *c, const magic_rule *rule)
{
    switch (rule->how) {
    case T_STATEMENT:
        return translate_statement(c);
    case T_SHELL:
        return translate_shell_line(c, c->parts.rest, false);
    case T_SHELL_CAPTURE:
        return translate_shell_line(c, c->parts.rest, true);
    case T_SHELL_ALIAS: {
        /* IPython's aliases: %ll is `ls -F -o --color`, the arguments where %l is */
        const char *alias = NULL;
        for (size_t i = 0; i < sizeof shell_aliases / sizeof shell_aliases[0] && !alias; i++)
            if (strcmp(shell_aliases[i].name, rule->name) == 0)
                alias = shell_aliases[i].command;
        nb_buf command = NB_BUF_INIT;
        const char *at = strstr(alias, "%l");
        span args = trim(c->parts.rest);
        nb_buf_add(&command, alias, (size_t)(at - alias));
        nb_buf_add(&command, args.s, args.len);
        nb_buf_puts(&command, at + 2);
        span cmd = trim((span){ command.data, command.len });
        nb_magic_action action = translate_shell_line(c, cmd, c->parts.target.len > 0);
        nb_buf_release(&command);
        return action;
    }
    case T_INSTALL:
        return translate_install(c);
    case T_CD:
        return translate_cd(c);
    case T_ENV:
        return translate_env(c);
    case T_RUN:
        return translate_run(c);
    case T_PYLAB:
        return translate_pylab(c);
    case T_PWD:
        return translate_pwd(c);
    default:
        break;
    }
    /* T_COMMENT, or an assignment from a magic that has no value to give */
    nb_magic_action action = rule->action;
    if (c->parts.target.len && action != NB_MAGIC_UNSUPPORTED)
        action = NB_MAGIC_UNSUPPORTED;
    comment_out(c, action);
    return action;
}

/* ---- Where statements start: a small Python lexer -------------------------------- */

/* What is open at the end of a line: brackets, a string, a backslash continuation.
 * Only a line that starts with nothing open can hold IPython syntax. */
typedef struct lex_state {
    int depth;
    char quote;  /* quote character of an open string, or 0 */
    bool triple; /* the open string is triple-quoted */
    bool continued;
} lex_state;

static bool at_statement_start(const lex_state *st)
{
    return st->depth == 0 && !st->quote && !st->continued;
}

static void lex_line(lex_state *st, span line)
{
    st->continued = false;
    size_t i = 0;
    while (i < line.len) {
        char ch = line.s[i];
        if (st->quote) {
            if (ch == '\\') {
                i += 2;
                continue;
            }
            if (ch == st->quote) {
                if (!st->triple) {
                    st->quote = 0;
                } else if (i + 2 < line.len && line.s[i + 1] == ch && line.s[i + 2] == ch) {
                    st->quote = 0;
                    i += 3;
                    continue;
                }
            }
            i++;
            continue;
        }
        if (ch == '#')
            break;
        if (ch == '\'' || ch == '"') {
            st->quote = ch;
            st->triple = i + 2 < line.len && line.s[i + 1] == ch && line.s[i + 2] == ch;
            i += st->triple ? 3 : 1;
            continue;
        }
        if (ch == '(' || ch == '[' || ch == '{')
            st->depth++;
        else if ((ch == ')' || ch == ']' || ch == '}') && st->depth > 0)
            st->depth--;
        else if (ch == '\\' && i + 1 == line.len)
            st->continued = true;
        i++;
    }
    if (i > line.len && st->quote) /* a backslash at the very end of a string line */
        st->continued = true;
    if (st->quote && !st->triple && !st->continued)
        st->quote = 0; /* an unterminated one-line string ends with its line */
}

/* ---- Cells ----------------------------------------------------------------------- */

typedef struct cell_ctx {
    const nb_magics *m;
    nb_magic_result *res;
    const char *src;
    size_t len;
} cell_ctx;

/* Calls back for each line: start, length without newline, and whether it had one. */
static span line_at(const cell_ctx *cc, size_t pos, bool *has_newline)
{
    const char *nl = memchr(cc->src + pos, '\n', cc->len - pos);
    size_t end = nl ? (size_t)(nl - cc->src) : cc->len;
    *has_newline = nl != NULL;
    return (span){ cc->src + pos, end - pos };
}

/* Tries the statement-level shapes on LINE; writes its translation and returns true
 * when it is IPython syntax. */
static bool translate_ipython_line(cell_ctx *cc, span line, int line_no)
{
    static const struct {
        enum shape shape;
        const char *sigil;
    } order[] = {
        /* help first: %time? asks about %time, it does not time "?" */
        { SHAPE_HELP, "?" },         { SHAPE_ASSIGN_SHELL, "!" }, { SHAPE_ASSIGN_MAGIC, "%" },
        { SHAPE_SHELL_CAPTURE, "!!" }, { SHAPE_SHELL, "!" },      { SHAPE_LINE_MAGIC, "%" },
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        /* every shape needs its sigil in the line; most lines are plain Python, and a
         * regular expression match costs far more than looking for one character */
        if (!memchr(line.s, order[i].sigil[0], line.len))
            continue;
        line_ctx c = { .m = cc->m, .res = cc->res, .line = line, .line_no = line_no,
                       .sigil = order[i].sigil };
        if (!match(cc->m->shapes[order[i].shape], line.s, line.len, &c.parts))
            continue;
        const magic_rule *rule;
        switch (order[i].shape) {
        case SHAPE_ASSIGN_SHELL: rule = &assign_shell_rule; break;
        case SHAPE_SHELL_CAPTURE: rule = &shell_capture_rule; break;
        case SHAPE_SHELL: rule = &shell_rule; break;
        case SHAPE_HELP: rule = &help_rule; break;
        default: rule = find_rule(c.parts.name, false); break;
        }
        size_t first = cc->res->nmagics;
        record(&c, rule, rule->action);
        nb_magic_action action = translate_line(&c, rule);
        cc->res->magics[first].action = action;
        return true;
    }
    return false;
}

/* The body of a script cell magic (everything after its first line). */
static span cell_body(const cell_ctx *cc, size_t body_start)
{
    return (span){ cc->src + body_start, cc->len - body_start };
}

static void comment_body_lines(cell_ctx *cc, size_t pos)
{
    while (pos < cc->len) {
        bool nl;
        span line = line_at(cc, pos, &nl);
        nb_buf_puts(&cc->res->python, line.len ? "# > " : "#");
        nb_buf_add(&cc->res->python, line.s, line.len);
        if (nl)
            nb_buf_putc(&cc->res->python, '\n');
        pos += line.len + nl;
    }
}

/* %%bash and friends: the interpreter reads the body on its standard input, as
 * IPython's %%script does; %%script names the interpreter in its arguments. Of the
 * options, --no-raise-error maps to check=False; the others (--bg, --out VAR...) change
 * what the cell does in ways a step cannot reproduce. */
static void write_script_call(cell_ctx *cc, line_ctx *c, const magic_rule *rule, span body,
                              nb_magic *mg)
{
    nb_buf *py = &cc->res->python;
    nb_buf argv = NB_BUF_INIT, word = NB_BUF_INIT;
    bool check = true, first = true;
    if (strcmp(rule->name, "script") != 0) {
        nb_write_py_string(&argv, c->parts.name.s, c->parts.name.len);
        first = false;
    }
    span args = trim(c->parts.rest);
    size_t i = 0;
    while ((i = next_word(args, i, &word)), word.len > 0) {
        if (first == false && word.data[0] == '-' && word.data[1] == '-') {
            if (strcmp(word.data, "--no-raise-error") == 0) {
                check = false;
                continue;
            }
            mg->action = NB_MAGIC_UNSUPPORTED;
            mg->why = "this %%script option has no equivalent in a pipeline step";
            break;
        }
        if (!first)
            nb_buf_puts(&argv, ", ");
        nb_write_py_string(&argv, word.data, word.len);
        first = false;
    }
    if (mg->action == NB_MAGIC_UNSUPPORTED || first) {
        if (first) {
            mg->action = NB_MAGIC_UNSUPPORTED;
            mg->why = "%%script without a program";
        }
        nb_buf_puts(py, "# unsupported: ");
        nb_buf_add(py, c->line.s, c->line.len);
    } else {
        nb_buf_puts(py, "import subprocess; subprocess.run([");
        nb_buf_add(py, argv.data, argv.len);
        nb_buf_puts(py, "], input=");
        nb_write_py_string(py, body.s, body.len);
        nb_buf_printf(py, ", text=True, check=%s)", check ? "True" : "False");
        add_origin_comment(c);
    }
    nb_buf_release(&argv);
    nb_buf_release(&word);
}

static void write_writefile(cell_ctx *cc, line_ctx *c, span body, nb_magic *mg)
{
    nb_buf *py = &cc->res->python;
    span args = trim(c->parts.rest);
    bool append = false;
    nb_buf word = NB_BUF_INIT;
    span file = { args.s, 0 };
    int names = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (start < args.len && (args.s[start] == ' ' || args.s[start] == '\t'))
            start++;
        i = next_word(args, i, &word);
        if (word.len == 0)
            break;
        if (strcmp(word.data, "-a") == 0 || strcmp(word.data, "--append") == 0) {
            append = true;
        } else {
            file = (span){ args.s + start, i - start };
            names++;
        }
    }
    /* a quoted name: its text without the quotes */
    if (file.len >= 2 && (file.s[0] == '"' || file.s[0] == '\'') && file.s[file.len - 1] == file.s[0])
        file = (span){ file.s + 1, file.len - 2 };
    if (names != 1) {
        mg->action = NB_MAGIC_UNSUPPORTED;
        mg->why = names ? "%%writefile takes one file name" : "%%writefile without a file name";
        nb_buf_puts(py, "# unsupported: ");
        nb_buf_add(py, c->line.s, c->line.len);
    } else {
        /* IPython expands variables in the name, and ~ */
        nb_buf_puts(py, "__import__(\"pathlib\").Path(");
        add_command_expr(c->m, py, file);
        nb_buf_puts(py, append ? ").expanduser().open(\"a\", encoding=\"utf-8\").write("
                               : ").expanduser().write_text(");
        nb_write_py_string(py, body.s, body.len);
        nb_buf_puts(py, append ? ")" : ", encoding=\"utf-8\")");
    }
    nb_buf_release(&word);
}

/* A cell whose first line is %%NAME. Returns the position where ordinary line-by-line
 * translation continues (the body, for magics whose body is Python), or LEN. */
/* S without its leading options (-x, with a value for the letters in WITH_VALUE). */
static span skip_options(span s, const char *with_value)
{
    while (s.len && s.s[0] == '-') {
        nb_buf word = NB_BUF_INIT;
        size_t after = next_word(s, 0, &word);
        if (word.len == 2 && strchr(with_value, word.data[1]))
            after = next_word(s, after, &word); /* -n 10: the value is the next word */
        nb_buf_release(&word);
        s = trim((span){ s.s + after, s.len - after });
    }
    return s;
}

/* Translates the cell magic on line FIRST. Returns true when that translated the rest
 * of the cell too (the body as an argument, commented out); false when the body is
 * Python the caller goes on translating line by line (%%time and the like). */
static bool translate_cell_magic(cell_ctx *cc, span first, bool has_newline, size_t body_start,
                                 int line_no)
{
    line_ctx c = { .m = cc->m, .res = cc->res, .line = first, .line_no = line_no, .sigil = "%%" };
    match(cc->m->shapes[SHAPE_CELL_MAGIC], first.s, first.len, &c.parts);
    const magic_rule *rule = find_rule(c.parts.name, true);
    nb_magic *mg = record(&c, rule, rule->action);
    nb_buf *py = &cc->res->python;
    span body = cell_body(cc, body_start);
    switch (rule->how) {
    case C_KEEP_BODY: {
        /* %%timeit's line is set-up code that runs before the body */
        span setup = strcmp(rule->name, "timeit") == 0 ? skip_options(trim(c.parts.rest), "nrp")
                                                        : (span){ first.s, 0 };
        if (setup.len) {
            nb_buf_add(py, setup.s, setup.len);
            add_origin_comment(&c);
        } else {
            nb_buf_puts(py, "# kept: ");
            nb_buf_add(py, first.s, first.len);
        }
        return false;
    }
    case C_SCRIPT:
        write_script_call(cc, &c, rule, body, mg);
        break;
    case C_WRITEFILE:
        write_writefile(cc, &c, body, mg);
        if (mg->action == NB_MAGIC_TRANSLATED)
            add_origin_comment(&c);
        break;
    default:
        nb_buf_printf(py, "# %s: ", nb_magic_action_name(rule->action));
        nb_buf_add(py, first.s, first.len);
        break;
    }
    if (has_newline)
        nb_buf_putc(py, '\n');
    comment_body_lines(cc, body_start);
    return true;
}

static bool ends_with_backslash(span line)
{
    span t = trim(line);
    return t.len && t.s[t.len - 1] == '\\';
}

/* IPython joins a magic or shell line with the lines its trailing backslashes continue:
 * each backslash is dropped and the parts are joined with a space. Returns the number
 * of lines joined (1 when LINE does not continue) and the logical line in JOINED. */
static int join_continued(const cell_ctx *cc, span line, size_t next, nb_buf *joined)
{
    nb_buf_reset(joined);
    int count = 1;
    span part = line;
    while (ends_with_backslash(part) && next < cc->len) {
        span t = trim(part);
        nb_buf_add(joined, part.s, (size_t)(t.s - part.s) + t.len - 1);
        nb_buf_putc(joined, ' ');
        bool nl;
        part = line_at(cc, next, &nl);
        next += part.len + nl;
        count++;
    }
    nb_buf_add(joined, part.s, part.len);
    return count;
}

/* The lines after the first of a continued magic, commented out. */
static size_t comment_continuation(cell_ctx *cc, size_t pos, int lines)
{
    for (int i = 0; i < lines && pos < cc->len; i++) {
        bool nl;
        span line = line_at(cc, pos, &nl);
        nb_buf_puts(&cc->res->python, "\n# > ");
        nb_buf_add(&cc->res->python, line.s, line.len);
        pos += line.len + nl;
    }
    return pos;
}

void nb_magics_translate(const nb_magics *m, const char *src, size_t len, nb_magic_result *res)
{
    nb_buf_reset(&res->python);
    res->nmagics = 0;
    free_packages(res);
    cell_ctx cc = { .m = m, .res = res, .src = src, .len = len };
    lex_state st = { 0 };
    nb_buf joined = NB_BUF_INIT;
    size_t pos = 0;
    int line_no = 1;
    /* a cell magic may open the cell, or the body of a cell magic that keeps it */
    bool cell_magic_allowed = true;
    while (pos < len) {
        bool nl;
        span line = line_at(&cc, pos, &nl);
        size_t next = pos + line.len + nl;
        span content = trim(line);
        if (cell_magic_allowed && content.len >= 2 && memcmp(content.s, "%%", 2) == 0 &&
            content.s == line.s) {
            /* (telling "done" from "body follows" by position failed when the magic
             * was the cell's last line: its newline was written twice) */
            if (translate_cell_magic(&cc, line, nl, next, line_no))
                break; /* the whole cell is done */
            if (nl)
                nb_buf_putc(&res->python, '\n');
            pos = next;
            line_no++;
            continue; /* the kept body may itself start with a cell magic */
        }
        if (content.len)
            cell_magic_allowed = false;
        bool handled = false;
        if (at_statement_start(&st) && content.len) {
            int lines = join_continued(&cc, line, next, &joined);
            span logical = { joined.data, joined.len };
            handled = translate_ipython_line(&cc, logical, line_no);
            if (handled && lines > 1) {
                next = comment_continuation(&cc, next, lines - 1);
                nl = next > 0 && src[next - 1] == '\n';
                line_no += lines - 1;
            }
        }
        if (!handled) {
            nb_buf_add(&res->python, line.s, line.len);
            lex_line(&st, line);
        }
        if (nl)
            nb_buf_putc(&res->python, '\n');
        pos = next;
        line_no++;
    }
    nb_buf_release(&joined);
}
