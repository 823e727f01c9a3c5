/* Data set specs: "fashion-mnist:train", "idx:IMAGES[,LABELS]", "csv:PATH[,header=yes|no]". */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SPEC_HELP "fashion-mnist:train, fashion-mnist:test, idx:IMAGES[,LABELS], csv:PATH[,header=yes|no] or text:PATH"
/* (In an idx: spec a comma inside a path is escaped with a backslash.) */

static cg_status load_fashion_mnist(cg_dataset *out, const char *spec, const char *split)
{
    const char *stem = strcmp(split, "train") == 0 ? "train"
                       : strcmp(split, "test") == 0 ? "t10k" : NULL;
    if (!stem)
        return cg_set_error(CG_ERR_ARG, "data set '%s': unknown split '%s' (train or test)", spec,
                            split);
    const char *dir = getenv("CG_FASHION_MNIST_DIR");
    if (!dir || !*dir) dir = FASHION_MNIST_DIR;
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    /* The usual failure is a missing package: say how to get the files. */
    const char *missing = access(images, R_OK) != 0   ? images
                          : access(labels, R_OK) != 0 ? labels
                                                      : NULL;
    if (missing)
        return cg_set_error(CG_ERR_IO,
                            "data set '%s': cannot open '%s': %s (install Debian's "
                            "dataset-fashion-mnist package or set CG_FASHION_MNIST_DIR)",
                            spec, missing, strerror(errno));
    cg_status s = cg_dataset_load_idx(out, images, labels);
    if (!s) s = cg_dataset_reshape(out, 3, (const int64_t[]){1, 28, 28});
    return s;
}

/* Copies src[0..n) into dst, turning an escaped comma (backslash, comma) into ",". */
static void unescape_commas(char *dst, const char *src, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\\' && i + 1 < n && src[i + 1] == ',') i++;
        dst[j++] = src[i];
    }
    dst[j] = '\0';
}

/* "IMAGES[,LABELS]": a comma inside a path is escaped with a backslash, or
 * the path is given whole when a file of that name exists. */
static cg_status load_idx_spec(cg_dataset *out, const char *spec, const char *rest)
{
    if (access(rest, F_OK) == 0) return cg_dataset_load_idx(out, rest, NULL);
    const char *comma = rest;
    while ((comma = strchr(comma, ',')) && comma > rest && comma[-1] == '\\') comma++;
    size_t n = strlen(rest), split = comma ? (size_t)(comma - rest) : n;
    char *images = malloc(n + 1), *labels = malloc(n + 1);
    cg_status s = CG_OK;
    if (!images || !labels) s = cg_set_error(CG_ERR_NOMEM, "data set '%s': out of memory", spec);
    if (!s && comma && !comma[1]) s = cg_set_error(CG_ERR_ARG, "data set '%s': empty labels path", spec);
    if (!s) {
        unescape_commas(images, rest, split);
        if (comma) unescape_commas(labels, comma + 1, n - split - 1);
        s = cg_dataset_load_idx(out, images, comma ? labels : NULL);
    }
    free(images);
    free(labels);
    return s;
}

/* "PATH[,header=yes|no]": the option is read only when PATH itself is not a file. */
static cg_status load_csv_spec(cg_dataset *out, const char *spec, const char *rest,
                               const cg_data_options *opts)
{
    bool classification = !opts->regression;
    if (access(rest, F_OK) == 0)
        return cg__dataset_load_csv(out, rest, classification, CG_CSV_HEADER_DETECT, opts);
    const char *comma = strrchr(rest, ',');
    if (!comma || strncmp(comma + 1, "header=", 7) != 0)
        return cg__dataset_load_csv(out, rest, classification, CG_CSV_HEADER_DETECT, opts);
    const char *value = comma + 8;
    cg_csv_header header = strcmp(value, "yes") == 0 ? CG_CSV_HEADER_YES
                           : strcmp(value, "no") == 0 ? CG_CSV_HEADER_NO : CG_CSV_HEADER_DETECT;
    if (header == CG_CSV_HEADER_DETECT)
        return cg_set_error(CG_ERR_ARG, "data set '%s': header=%s; expected header=yes or "
                            "header=no", spec, value);
    char *path = strndup(rest, (size_t)(comma - rest));
    if (!path) return cg_set_error(CG_ERR_NOMEM, "data set '%s': out of memory", spec);
    cg_status s = cg__dataset_load_csv(out, path, classification, header, opts);
    free(path);
    return s;
}

/* The window length is the model's input [T]; a text model's classes
 * (its output's last dimension) must cover the vocabulary. */
static cg_status load_text_spec(cg_dataset *out, const char *path, const cg_data_options *opts)
{
    if (opts->sample_ndim != 1)
        return cg_set_error(CG_ERR_ARG, "text:%s: a text data set needs a model whose input is "
                                        "[T] token ids (an embedding first)", path);
    cg_status s = cg_dataset_load_text(out, path, opts->sample_shape[0], opts->vocab,
                                       opts->vocab_size);
    if (s == CG_OK && opts->num_classes > 0 && out->vocab_size > opts->num_classes) {
        s = cg_set_error(CG_ERR_ARG, "text:%s: the text has %lld distinct characters but the "
                                     "model has %d classes; set the embedding's \"vocab\" and "
                                     "the last dense layer's \"units\" to at least %lld",
                         path, (long long)out->vocab_size, (int)opts->num_classes,
                         (long long)out->vocab_size);
        cg_dataset_free(out);
    }
    return s;
}

static cg_status dispatch(cg_dataset *out, const char *spec, const cg_data_options *opts)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return cg_set_error(CG_ERR_ARG, "data set '%s' has no kind prefix; expected %s", spec,
                            SPEC_HELP);
    size_t kind_len = (size_t)(colon - spec);
    const char *rest = colon + 1;
    if (!*rest) return cg_set_error(CG_ERR_ARG, "data set '%s': nothing after the ':'", spec);
    if (kind_len == 13 && strncmp(spec, "fashion-mnist", 13) == 0)
        return load_fashion_mnist(out, spec, rest);
    if (kind_len == 3 && strncmp(spec, "idx", 3) == 0) return load_idx_spec(out, spec, rest);
    if (kind_len == 3 && strncmp(spec, "csv", 3) == 0) return load_csv_spec(out, spec, rest, opts);
    if (kind_len == 4 && strncmp(spec, "text", 4) == 0) return load_text_spec(out, rest, opts);
    return cg_set_error(CG_ERR_ARG, "data set '%s': unknown kind '%.*s'; expected %s", spec,
                        (int)(kind_len > 64 ? 64 : kind_len), spec, SPEC_HELP);
}

cg_status cg_dataset_load_spec(cg_dataset *out, const char *spec, const cg_data_options *opts)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_spec: out is NULL");
    memset(out, 0, sizeof *out);
    if (!spec) return cg_set_error(CG_ERR_ARG, "cg_dataset_load_spec: spec is NULL");
    const cg_data_options defaults = {0};
    if (!opts) opts = &defaults;
    cg_status s = dispatch(out, spec, opts);
    if (!s && opts->sample_ndim > 0)
        s = cg_dataset_reshape(out, opts->sample_ndim, opts->sample_shape);
    if (s) {
        cg_dataset_free(out);
        return s;
    }
    cg__dataset_set_source(out, spec);
    return CG_OK;
}
