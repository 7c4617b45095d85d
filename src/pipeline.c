#include "nb2pipe/pipeline.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void nb_pipeline_free(nb_pipeline *p)
{
    if (!p)
        return;
    nb_pool_release(&p->pool);
    free(p);
}

long nb_pipeline_step_index(const nb_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *nb_value_type_name(nb_value_type type)
{
    switch (type) {
    case NB_TYPE_STRING: return "string";
    case NB_TYPE_INT: return "int";
    case NB_TYPE_FLOAT: return "float";
    case NB_TYPE_BOOL: return "bool";
    case NB_TYPE_NONE: return "none";
    }
    return "?";
}

static bool valid_step_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 48 || isdigit((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

static bool sorted_strings(const char *const *items, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(items[i - 1], items[i]) >= 0)
            return false;
    return true;
}

static bool lists(const char *const *items, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i], name) == 0)
            return true;
    return false;
}

bool nb_pipeline_has_dependents(const nb_pipeline *p, size_t i)
{
    for (size_t j = i + 1; j < p->nsteps; j++)
        for (size_t u = 0; u < p->steps[j].nupstream; u++)
            if (p->steps[j].upstream[u] == i)
                return true;
    return false;
}

const char *nb_pipeline_check(const nb_pipeline *p)
{
    if (p->nsteps == 0)
        return "a pipeline has at least one step";
    for (size_t s = 0; s < p->nsteps; s++) {
        const nb_step *st = &p->steps[s];
        if (!valid_step_name(st->name))
            return "step names are [a-z0-9_], start with a letter and have at most 48 characters";
        for (size_t t = 0; t < s; t++)
            if (strcmp(p->steps[t].name, st->name) == 0)
                return "step names are unique";
        for (size_t u = 0; u < st->nupstream; u++) {
            if (st->upstream[u] >= s)
                return "every upstream step comes earlier in the order";
            if (u > 0 && st->upstream[u - 1] >= st->upstream[u])
                return "upstream lists are ascending without repeats";
        }
        for (size_t i = 0; i < st->ninputs; i++) {
            const nb_input *in = &st->inputs[i];
            if (i > 0 && strcmp(st->inputs[i - 1].name, in->name) >= 0)
                return "inputs are sorted by name without repeats";
            bool upstream = false;
            for (size_t u = 0; u < st->nupstream && !upstream; u++)
                upstream = st->upstream[u] == in->from;
            if (!upstream)
                return "every input comes from an upstream step";
            if (!lists(p->steps[in->from].outputs, p->steps[in->from].noutputs, in->name))
                return "every input is an output of the step it comes from";
        }
        if (!sorted_strings(st->outputs, st->noutputs) || !sorted_strings(st->metrics, st->nmetrics))
            return "outputs and metrics are sorted without repeats";
        for (size_t i = 0; i < st->nparams; i++)
            if (st->params[i] >= p->nparams || (i > 0 && st->params[i - 1] >= st->params[i]))
                return "step parameters are ascending indexes of pipeline parameters";
        for (size_t i = 0; i < st->ncells; i++)
            if (!st->cells[i].text)
                return "every cell has its text";
    }
    for (size_t i = 0; i < p->nparams; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->params[i].name, p->params[j].name) == 0)
                return "parameter names are unique";
    return NULL;
}
