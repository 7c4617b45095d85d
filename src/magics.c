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
    "(?:pip3?|conda|mamba)[ \\t]+install(?<rest>[^;&|<>`$(){}]*)$";

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
    { "run", false, NB_MAGIC_TRANSLATED, T_RUN, "runpy.run_path" },
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

/* Appends CMD as a Python expression for the command IPython would run: {expr} and
 * $name (a lower-case Python-style name) are interpolated as IPython does, {{ and }}
 * are literal braces, $$ is a literal $, and $NAME in upper case stays for the shell.
 * Braces around anything but a plain name, attribute, index or call stay literal, as
 * IPython leaves them when it cannot evaluate them (awk '{print $1}'). */
static void add_command_expr(const nb_magics *m, nb_buf *out, span cmd)
{
    nb_buf text = NB_BUF_INIT;
    bool interpolated = false;
    size_t i = 0;
    while (i < cmd.len) {
        char ch = cmd.s[i];
        if ((ch == '{' || ch == '}') && i + 1 < cmd.len && cmd.s[i + 1] == ch) {
            nb_write_py_fstring_text(&text, &ch, 1);
            i += 2;
            continue;
        }
        if (ch == '{') {
            const char *close = memchr(cmd.s + i, '}', cmd.len - i);
            if (close && match(m->interpolation, cmd.s + i + 1, (size_t)(close - cmd.s - i - 1), NULL)) {
                nb_buf_add(&text, cmd.s + i, (size_t)(close - cmd.s - i) + 1);
                interpolated = true;
                i = (size_t)(close - cmd.s) + 1;
                continue;
            }
        }
        if (ch == '$' && i + 1 < cmd.len && cmd.s[i + 1] == '$') {
            nb_buf_putc(&text, '$');
            i += 2;
            continue;
        }
        if (ch == '$' && i + 1 < cmd.len && ((cmd.s[i + 1] >= 'a' && cmd.s[i + 1] <= 'z') || cmd.s[i + 1] == '_')) {
            size_t end = i + 1;
            while (end < cmd.len && (cmd.s[end] == '_' || (cmd.s[end] >= 'a' && cmd.s[end] <= 'z') ||
                                     (cmd.s[end] >= 'A' && cmd.s[end] <= 'Z') ||
                                     (cmd.s[end] >= '0' && cmd.s[end] <= '9')))
                end++;
            nb_buf_putc(&text, '{');
            nb_buf_add(&text, cmd.s + i + 1, end - i - 1);
            nb_buf_putc(&text, '}');
            interpolated = true;
            i = end;
            continue;
        }
        nb_write_py_fstring_text(&text, &ch, 1);
        i++;
    }
    if (interpolated) {
        nb_buf_puts(out, "f\"");
        nb_buf_add(out, text.data, text.len);
        nb_buf_putc(out, '"');
    } else {
        nb_write_py_string(out, cmd.s, cmd.len);
    }
    nb_buf_release(&text);
}

/* Splits shell words (quotes removed) from S, for install arguments and %%script. */
static size_t next_word(span s, size_t i, nb_buf *word)
{
    nb_buf_reset(word);
    while (i < s.len && (s.s[i] == ' ' || s.s[i] == '\t'))
        i++;
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
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
        "--upgrade-strategy", "--platform", "--python-version", "--implementation", "--abi",
        "--src", "--progress-bar", "--trusted-host", "--cache-dir", "--log", "--proxy",
        "--timeout", "--retries", "--exists-action", "--cert", "--client-cert", "-c",
        "--channel", "-n", "--name", "-p", NULL
    };
    for (size_t i = 0; with_value[i]; i++)
        if (strcmp(opt, with_value[i]) == 0)
            return true;
    return false;
}

/* Records the packages of an install command ARGS (what follows "install"). */
static void record_packages(nb_magic_result *res, span args)
{
    nb_buf word = NB_BUF_INIT;
    size_t i = 0;
    while ((i = next_word(args, i, &word)), word.len > 0) {
        if (word.data[0] == '-') {
            if (option_takes_value(word.data))
                i = next_word(args, i, &word);
            continue;
        }
        res->packages = nb_xgrow(res->packages, &res->packages_cap, res->npackages + 1,
                                 sizeof *res->packages);
        res->packages[res->npackages++] = nb_xstrndup(word.data, word.len);
    }
    nb_buf_release(&word);
}

static void translate_shell(line_ctx *c, span cmd, bool capture)
{
    nb_buf *py = &c->res->python;
    add_indent(c);
    nb_buf_puts(py, "import subprocess; ");
    if (c->parts.target.len) {
        nb_buf_add(py, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(py, " = ");
    }
    nb_buf_puts(py, "subprocess.run(");
    add_command_expr(c->m, py, trim(cmd));
    if (capture)
        nb_buf_puts(py, ", shell=True, check=True, capture_output=True, text=True)"
                        ".stdout.splitlines()");
    else
        nb_buf_puts(py, ", shell=True, check=True)");
    add_origin_comment(c);
}

/* A shell command: a package installation feeds requirements.txt, anything else runs. */
static nb_magic_action translate_shell_line(line_ctx *c, span cmd, bool capture)
{
    line_match inst;
    if (!c->parts.target.len && match(c->m->install, cmd.s, cmd.len, &inst)) {
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
        bool takes_value = word.len == 2 && strchr("sTDlr", word.data[1]);
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
    add_indent(c);
    nb_buf_puts(&c->res->python, "import os; os.chdir(os.path.expanduser(");
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
    if (!assigns || c->parts.target.len) { /* %env or %env NAME only show values */
        comment_out(c, NB_MAGIC_DROPPED);
        return NB_MAGIC_DROPPED;
    }
    add_indent(c);
    nb_buf_puts(&c->res->python, "import os; os.environ[");
    nb_write_py_string(&c->res->python, name.s, name.len);
    nb_buf_puts(&c->res->python, "] = ");
    add_command_expr(c->m, &c->res->python, value);
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
    nb_buf_puts(&c->res->python, "import runpy; globals().update({k: v for k, v in "
                                 "runpy.run_path(");
    add_command_expr(c->m, &c->res->python, path);
    nb_buf_puts(&c->res->python, ", run_name=\"__main__\").items() if not k.startswith(\"__\")})");
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
                                 "plt = pyplot; from pylab import *; from numpy import *");
    add_origin_comment(c);
    return NB_MAGIC_TRANSLATED;
}

static nb_magic_action translate_pwd(line_ctx *c)
{
    add_indent(c);
    nb_buf_puts(&c->res->python, "import os; ");
    if (c->parts.target.len) {
        nb_buf_add(&c->res->python, c->parts.target.s, c->parts.target.len);
        nb_buf_puts(&c->res->python, " = ");
    }
    nb_buf_puts(&c->res->python, "os.getcwd()");
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
        span cmd = { c->parts.name.s, (size_t)(c->parts.rest.s + c->parts.rest.len - c->parts.name.s) };
        return translate_shell_line(c, cmd, c->parts.target.len > 0);
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
        { SHAPE_ASSIGN_SHELL, "!" }, { SHAPE_ASSIGN_MAGIC, "%" }, { SHAPE_SHELL_CAPTURE, "!!" },
        { SHAPE_SHELL, "!" },        { SHAPE_LINE_MAGIC, "%" },   { SHAPE_HELP, "?" },
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        line_ctx c = { .m = cc->m, .res = cc->res, .line = line, .line_no = line_no,
                       .sigil = order[i].sigil };
        if (!match(cc->m->shapes[order[i].shape], line.s, line.len, &c.parts))
            continue;
        const magic_rule *rule;
        switch (order[i].shape) {
        case SHAPE_ASSIGN_SHELL:
            rule = &shell_capture_rule;
            c.sigil = "!";
            break;
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
    nb_buf word = NB_BUF_INIT, path = NB_BUF_INIT;
    size_t i = 0;
    while ((i = next_word(args, i, &word)), word.len > 0) {
        if (strcmp(word.data, "-a") == 0 || strcmp(word.data, "--append") == 0)
            append = true;
        else
            nb_buf_add(&path, word.data, word.len);
    }
    if (!path.len) {
        mg->action = NB_MAGIC_UNSUPPORTED;
        mg->why = "%%writefile without a file name";
        nb_buf_puts(py, "# unsupported: ");
        nb_buf_add(py, c->line.s, c->line.len);
    } else {
        nb_buf_puts(py, "import pathlib; pathlib.Path(");
        nb_write_py_string(py, path.data, path.len);
        nb_buf_puts(py, append ? ").open(\"a\", encoding=\"utf-8\").write(" : ").write_text(");
        nb_write_py_string(py, body.s, body.len);
        nb_buf_puts(py, append ? ")" : ", encoding=\"utf-8\")");
    }
    nb_buf_release(&word);
    nb_buf_release(&path);
}

/* A cell whose first line is %%NAME. Returns the position where ordinary line-by-line
 * translation continues (the body, for magics whose body is Python), or LEN. */
static size_t translate_cell_magic(cell_ctx *cc, span first, bool has_newline, size_t body_start,
                                   int line_no)
{
    line_ctx c = { .m = cc->m, .res = cc->res, .line = first, .line_no = line_no, .sigil = "%%" };
    match(cc->m->shapes[SHAPE_CELL_MAGIC], first.s, first.len, &c.parts);
    const magic_rule *rule = find_rule(c.parts.name, true);
    nb_magic *mg = record(&c, rule, rule->action);
    nb_buf *py = &cc->res->python;
    span body = cell_body(cc, body_start);
    switch (rule->how) {
    case C_KEEP_BODY:
        nb_buf_puts(py, "# kept: ");
        nb_buf_add(py, first.s, first.len);
        return body_start;
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
    return cc->len;
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
            size_t resume = translate_cell_magic(&cc, line, nl, next, line_no);
            if (resume == len)
                break;
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
