/* Kubernetes' syntax for names, label and annotation keys, label values and resource
 * quantities. The tag reader (segment.c) holds `limit:`, `annotation:` and `label:` tags
 * to these rules, so every target receives values Kubernetes accepts; the container
 * emitters name things with nb_k8s_name, and SLURM, Batch and KFP convert quantities to
 * their own units with nb_quantity_ceil / nb_quantity_value. */
#ifndef NB2PIPE_K8S_H
#define NB2PIPE_K8S_H

#include "nb2pipe/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TEXT as a DNS-1123 label: lower-case letters, digits and '-', starting and ending with
 * a letter or digit, at most MAX characters ("load_data" -> "load-data"); "pipeline"
 * when nothing is left. */
void nb_k8s_name(const char *text, size_t max, nb_buf *out);

/* A label, annotation or resource key: [PREFIX/]NAME, PREFIX a DNS-1123 subdomain (at
 * most 253), NAME 1 to 63 of [A-Za-z0-9._-] starting and ending alphanumeric. */
bool nb_k8s_key_ok(const char *key);

/* A label value: empty, or 1 to 63 of [A-Za-z0-9._-] starting and ending alphanumeric. */
bool nb_k8s_label_value_ok(const char *value);

/* A resource quantity as nb2pipe accepts it: digits with an optional fraction and one of
 * Kubernetes' suffixes (m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei): "500m", "2Gi",
 * "1.5". Kubernetes also takes signs and exponents, which no limit needs. */
bool nb_quantity_ok(const char *quantity);

/* QUANTITY divided by UNIT base units (cores, bytes, devices) and rounded up, computed
 * exactly. False when it is not nb_quantity_ok or the result does not fit 64 bits. */
bool nb_quantity_ceil(const char *quantity, uint64_t unit, uint64_t *out);

/* QUANTITY in base units as a double (KFP's numeric resource fields). */
double nb_quantity_value(const char *quantity);

#endif
