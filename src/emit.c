#include "nb2pipe/emit.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/k8s.h"

#include <stdlib.h>
#include <string.h>

const nb_target nb_targets[] = {
    { "scripts", nb_emit_scripts, true },
    { "ploomber", nb_emit_ploomber, true },
    { "requirements", nb_emit_requirements, true },
    { "docker", nb_emit_docker, true },
    { "airflow", nb_emit_airflow, false },
    { "argo", nb_emit_argo, false },
    { "kfp", nb_emit_kfp, false },
    { "slurm", nb_emit_slurm, false },
    { "batch", nb_emit_batch, false },
    { NULL, NULL, false },
};

const char *nb_emit_name(const nb_pipeline *p, const nb_emit_opts *opts)
{
    return opts && opts->name ? opts->name : p->name;
}

void nb_emit_image(const nb_pipeline *p, const nb_emit_opts *opts, nb_buf *out)
{
    if (opts && opts->image)
        nb_buf_puts(out, opts->image);
    else
        nb_buf_printf(out, "%s%s", p->name, NB_DEFAULT_IMAGE_TAG);
}

const char *nb_emit_data_root(const nb_emit_opts *opts)
{
    return opts && opts->data_root ? opts->data_root : NB_DEFAULT_DATA_ROOT;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

nb_loc nb_emit_loc(const nb_pipeline *p, int cell, int line)
{
    return (nb_loc){ .file = p->path, .cell = cell, .line = line, .col = line ? 1 : 0 };
}

int nb_emit_check_ascii_params(const nb_pipeline *p, const char *target, nb_diags *diags)
{
    int status = 0;
    for (size_t i = 0; i < p->nparams; i++) {
        const nb_param *param = &p->params[i];
        bool ok = !(param->name[0] >= '0' && param->name[0] <= '9');
        for (const char *c = param->name; *c && ok; c++)
            ok = is_alnum(*c) || *c == '_';
        if (!ok) {
            nb_diag_add(diags, NB_ERROR, "bad-value", nb_emit_loc(p, param->cell, param->line),
                        "parameter '%s' is not an ASCII identifier, which %s needs: it becomes "
                        "a shell or environment variable name", param->name, target);
            status = -1;
        }
    }
    return status;
}

void nb_emit_job_name(const char *text, size_t max, nb_buf *out)
{
    size_t start = out->len;
    bool gap = false;
    for (const char *c = text; *c && out->len - start < max; c++) {
        if (is_alnum(*c) || *c == '_' || *c == '-') {
            if (out->len == start && !is_alnum(*c))
                continue;
            if (gap && out->len > start && *c != '-' && out->data[out->len - 1] != '-')
                nb_buf_putc(out, '-');
            gap = false;
            nb_buf_putc(out, *c);
        } else {
            gap = true;
        }
    }
    if (out->len - start > max)
        nb_buf_truncate(out, start + max);
    while (out->len > start && !is_alnum(out->data[out->len - 1]))
        nb_buf_truncate(out, out->len - 1);
    if (out->len == start)
        nb_buf_puts(out, "pipeline");
}

int nb_emit_whole_resources(const nb_pipeline *p, const nb_step *s, const char *target,
                            const nb_whole_resource *kinds, size_t nkinds,
                            nb_whole_amount *out, nb_diags *diags)
{
    memset(out, 0, nkinds * sizeof *out);
    for (size_t i = 0; i < s->nlimits; i++) {
        const nb_kv *limit = &s->limits[i];
        size_t k = 0;
        while (k < nkinds && strcmp(limit->key, kinds[k].key) != 0)
            k++;
        if (k == nkinds) {
            nb_diag_add(diags, NB_WARNING, "unsupported-limit", nb_emit_loc(p, limit->cell, 0),
                        "limit '%s' of step '%s' has no %s counterpart (cpu, memory, "
                        "nvidia.com/gpu): ignored", limit->key, s->name, target);
            continue;
        }
        uint64_t amount;
        if (!nb_quantity_ceil(limit->value, kinds[k].unit, &amount)) {
            nb_diag_add(diags, NB_ERROR, "bad-value", nb_emit_loc(p, limit->cell, 0),
                        "limit '%s' of step '%s' is too large for %s: '%s'", limit->key,
                        s->name, target, limit->value);
            return -1;
        }
        out[k] = (nb_whole_amount){ limit, amount < kinds[k].minimum ? kinds[k].minimum : amount };
    }
    return 0;
}

/* Appends the digits of DIGITS (in BASE, '_' separators allowed) in decimal, of any
 * length. Returns false on a character that is not a digit of BASE. */
static bool to_decimal(const char *digits, unsigned base, nb_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = 2 * strlen(digits) + 2, len = 1;
    unsigned char *dec = nb_xcalloc(cap, 1); /* little-endian decimal digits */
    bool ok = *digits != '\0';
    for (const char *s = digits; *s && ok; s++) {
        if (*s == '_')
            continue;
        const char *at = strchr(hex, *s | 0x20);
        unsigned carry = at ? (unsigned)(at - hex) : base;
        ok = carry < base;
        for (size_t i = 0; i < len && ok; i++) {
            unsigned v = dec[i] * base + carry;
            dec[i] = (unsigned char)(v % 10);
            carry = v / 10;
        }
        while (carry && ok) {
            dec[len++] = (unsigned char)(carry % 10);
            carry /= 10;
        }
    }
    while (ok && len > 0)
        nb_buf_putc(out, (char)('0' + dec[--len]));
    free(dec);
    return ok;
}

/* A number as the step reads it back: int() and float() take no space after a sign
 * ("- 5" is a literal in Python) and int() no base prefix ("0x1f"): those are
 * rewritten. Complex literals ("2j") pass as written (the step evaluates them).
 * Returns false for a literal it cannot rewrite ("~5"). */
static bool number_text(const nb_param *param, nb_buf *out)
{
    nb_buf t = NB_BUF_INIT;
    for (const char *c = param->value; *c; c++)
        if (!strchr(" \t\r\n\\", *c))
            nb_buf_putc(&t, *c);
    const char *s = t.data;
    if (*s == '+' || *s == '-')
        nb_buf_putc(out, *s++);
    size_t n = strlen(s);
    bool complex = n > 0 && (s[n - 1] == 'j' || s[n - 1] == 'J');
    char base = s[0] == '0' ? (char)(s[1] | 0x20) : '\0';
    bool ok = true;
    if (param->type == NB_TYPE_INT && !complex && (base == 'x' || base == 'o' || base == 'b'))
        ok = to_decimal(s + 2, base == 'x' ? 16 : base == 'o' ? 8 : 2, out);
    else if ((s[0] >= '0' && s[0] <= '9') || (s[0] == '.' && param->type == NB_TYPE_FLOAT))
        nb_buf_puts(out, s);
    else
        ok = false;
    nb_buf_release(&t);
    return ok;
}

bool nb_emit_param_text(const nb_param *param, nb_buf *out)
{
    switch (param->type) {
    case NB_TYPE_INT:
    case NB_TYPE_FLOAT: return number_text(param, out);
    default: nb_buf_puts(out, param->value); return true;
    }
}

void nb_emit_header(nb_buf *out, const nb_pipeline *p, const char *comment)
{
    /* notebook names are the user's: a newline in one must not end the comment */
    nb_buf_printf(out, "%s Generated by nb2pipe from ", comment);
    nb_buf_add_printable(out, p->notebook, strlen(p->notebook));
    nb_buf_puts(out, "; do not edit. Regenerate: ");
    nb_buf_add_printable(out, p->regenerate, strlen(p->regenerate));
    nb_buf_puts(out, " " NB_SEAL_PLACEHOLDER "\n");
}

void nb_step_script_path(const nb_step *s, nb_buf *out)
{
    nb_buf_printf(out, "steps/%s.py", s->name);
}

void nb_data_path(const char *producer, const char *name, nb_buf *out)
{
    nb_buf_printf(out, "%s/%s.pkl", producer, name);
}
