/* Dockerfile: the image the container targets (Argo, Kubeflow, Airflow's
 * KubernetesPodOperator, AWS Batch) run the steps in. Built from the notebook's
 * directory, so that the data files the notebook reads by relative path are in it:
 *   docker build -f <pipeline dir>/Dockerfile -t <image> <notebook dir> */
#include "nb2pipe/emit.h"

#include <string.h>

/* The output directory inside the build context. One that leaves the context (an
 * output directory outside the notebook's) or has characters a Dockerfile line would
 * have to quote falls back to "." (the notebook's directory itself). */
static const char *context_path(const nb_emit_opts *opts)
{
    const char *dir = opts && opts->pipeline_dir ? opts->pipeline_dir : ".";
    bool plain = strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") ==
                 strlen(dir);
    return !plain || strncmp(dir, "..", 2) == 0 || dir[0] == '/' ? "." : dir;
}

int nb_emit_docker(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    (void)diags;
    const char *dir = context_path(opts);
    nb_buf image = NB_BUF_INIT;
    nb_emit_image(p, opts, &image);
    nb_buf *out = nb_fileset_add(fs, "Dockerfile");
    nb_emit_header(out, p, "#");
    nb_buf_puts(out, "# Build from the notebook's directory: docker build -f ");
    nb_buf_add_printable(out, dir, strlen(dir));
    nb_buf_puts(out, "/Dockerfile -t ");
    nb_buf_add_printable(out, image.data, image.len);
    nb_buf_puts(out, " .\n");
    nb_buf_puts(out, "FROM python:3.11-slim\n"
                     "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg\n");
    /* requirements first: the layer is reused while only code changes */
    nb_buf_printf(out, "COPY [\"%s/requirements.txt\", \"/tmp/requirements.txt\"]\n", dir);
    nb_buf_puts(out, "RUN pip install --no-cache-dir -r /tmp/requirements.txt\n"
                     "WORKDIR /app\n"
                     "COPY . /app\n");
    if (strcmp(dir, ".") == 0)
        nb_buf_puts(out, "WORKDIR /app\n");
    else
        nb_buf_printf(out, "WORKDIR /app/%s\n", dir);
    nb_buf_release(&image);
    return 0;
}
