/* Data sets in memory: lifetime, reshaping, label checks, minibatch gather
 * and the train/validation split. The file formats live in idx.c and
 * csv.c, the spec strings in spec.c. */
#include "data_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Below this many floats per batch, starting threads costs more than the copy. */
#define BATCH_PARALLEL_FLOATS (1 << 16)

void cg__dataset_set_source(cg_dataset *d, const char *source)
{
    snprintf(d->source, sizeof d->source, "%s", source ? source : "");
}

void cg_dataset_free(cg_dataset *d)
{
    if (!d) return;
    if (d->owns_data) {
        free(d->x);
        free(d->y);
        free(d->labels);
        cg_table_free(d->table);
        free(d->vocab);
        free(d->tokens);
    }
    memset(d, 0, sizeof *d);
}

cg_status cg__check_sample_shape(const char *what, int ndim, const int64_t *shape,
                                 int64_t sample_size)
{
    if (ndim < 0 || ndim > CG_MAX_DIMS || (ndim > 0 && !shape))
        return cg_set_error(CG_ERR_ARG, "%s: sample rank %d outside 0..%d", what, ndim,
                            CG_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || !cg__mul_within(n, shape[i], INT64_MAX, &n))
            return cg_set_error(CG_ERR_ARG, "%s: invalid sample dimension %lld", what,
                                (long long)shape[i]);
    }
    if (n != sample_size) {
        char buf[160];
        cg_dims_str(ndim, shape, buf, sizeof buf);
        return cg_set_error(CG_ERR_ARG,
                            "%s: sample shape %s has %lld elements but each sample has %lld values",
                            what, buf, (long long)n, (long long)sample_size);
    }
    return CG_OK;
}

cg_status cg_dataset_reshape(cg_dataset *d, int sample_ndim, const int64_t *sample_shape)
{
    if (!d) return cg_set_error(CG_ERR_ARG, "cg_dataset_reshape: data set is NULL");
    cg_status s = cg__check_sample_shape(d->source, sample_ndim, sample_shape, d->sample_size);
    if (s) return s;
    d->sample_ndim = sample_ndim;
    memset(d->sample_shape, 0, sizeof d->sample_shape);
    for (int i = 0; i < sample_ndim; i++) d->sample_shape[i] = sample_shape[i];
    return CG_OK;
}

int64_t cg_dataset_labels_per_sample(const cg_dataset *d)
{
    return d && d->label_size > 0 ? d->label_size : 1;
}

cg_status cg_dataset_check_labels(const cg_dataset *d, int32_t num_classes)
{
    if (!d || !d->labels)
        return cg_set_error(CG_ERR_ARG, "%s: data set has no class labels",
                            d ? d->source : "cg_dataset_check_labels");
    const int64_t per = cg_dataset_labels_per_sample(d);
    for (int64_t i = 0; i < d->count * per; i++) {
        int32_t l = d->labels[i];
        if (l < 0 || l >= num_classes)
            return cg_set_error(CG_ERR_ARG,
                                "%s: sample %lld has label %d, outside the model's %d classes "
                                "(0..%d)",
                                d->source, (long long)(i / per), (int)l, (int)num_classes,
                                (int)num_classes - 1);
    }
    return CG_OK;
}

static cg_status check_batch_args(const cg_dataset *d, const int64_t *indices, int64_t n,
                                  const float *x_out, const int32_t *labels_out,
                                  const float *y_out)
{
    if (!d || n < 0 || (n > 0 && (!indices || !x_out)))
        return cg_set_error(CG_ERR_ARG, "cg_dataset_batch: NULL data set, indices or x_out");
    if (labels_out && !d->labels)
        return cg_set_error(CG_ERR_ARG, "%s: batch asks for labels but the data set has none",
                            d->source);
    if (y_out && !d->y)
        return cg_set_error(CG_ERR_ARG,
                            "%s: batch asks for regression targets but the data set has none",
                            d->source);
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= d->count)
            return cg_set_error(CG_ERR_ARG,
                                "%s: batch index %lld is %lld, outside the %lld samples",
                                d->source, (long long)i, (long long)indices[i],
                                (long long)d->count);
    return CG_OK;
}

cg_status cg_dataset_batch(const cg_dataset *d, const int64_t *indices, int64_t n,
                           float *x_out, int32_t *labels_out, float *y_out)
{
    cg_status s = check_batch_args(d, indices, n, x_out, labels_out, y_out);
    if (s) return s;
    const int64_t size = d->sample_size, ts = d->target_size, ls = cg_dataset_labels_per_sample(d);
    const size_t row = (size_t)size * sizeof(float);
    /* Indices were validated above, so the loop body cannot fail. */
#pragma omp parallel for schedule(static) if (n * size >= BATCH_PARALLEL_FLOATS)
    for (int64_t i = 0; i < n; i++) {
        const int64_t j = indices[i];
        memcpy(x_out + i * size, d->x + j * size, row);
        if (labels_out)
            memcpy(labels_out + i * ls, d->labels + j * ls, (size_t)ls * sizeof *labels_out);
        if (y_out) memcpy(y_out + i * ts, d->y + j * ts, (size_t)ts * sizeof(float));
    }
    return CG_OK;
}

/* A view of samples [start, start + count) of d. */
static void make_view(const cg_dataset *d, int64_t start, int64_t count, const char *part,
                      cg_dataset *v)
{
    *v = *d;
    v->owns_data = false;
    v->count = count;
    v->x = d->x + start * d->sample_size;
    v->y = d->y ? d->y + start * d->target_size : NULL;
    v->labels = d->labels ? d->labels + start * cg_dataset_labels_per_sample(d) : NULL;
    snprintf(v->source, sizeof v->source, "%.200s (%s)", d->source, part);
}

cg_status cg_dataset_split(const cg_dataset *d, double val_fraction, cg_dataset *train_out,
                           cg_dataset *val_out)
{
    if (!d || !train_out || !val_out)
        return cg_set_error(CG_ERR_ARG, "cg_dataset_split: NULL argument");
    if (!(val_fraction > 0 && val_fraction < 1))
        return cg_set_error(CG_ERR_ARG, "%s: validation fraction %g is not in (0, 1)", d->source,
                            val_fraction);
    int64_t n_val = (int64_t)llround(val_fraction * (double)d->count);
    if (n_val < 1 || n_val >= d->count)
        return cg_set_error(CG_ERR_ARG,
                            "%s: a validation fraction of %g leaves %lld of %lld samples for "
                            "validation; both parts need at least one",
                            d->source, val_fraction, (long long)n_val, (long long)d->count);
    cg_dataset train, val;  /* built first: train_out may be d itself */
    make_view(d, 0, d->count - n_val, "train", &train);
    make_view(d, d->count - n_val, n_val, "validation", &val);
    *train_out = train;
    *val_out = val;
    return CG_OK;
}

/* zlib's CRC-32 takes at most UINT_MAX bytes a call. */
static unsigned long crc_of(unsigned long crc, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    while (bytes > 0) {
        size_t n = bytes < (1u << 30) ? bytes : (1u << 30);
        crc = crc32(crc, p, (uInt)n);
        p += n;
        bytes -= n;
    }
    return crc;
}

void cg_dataset_fingerprint(const cg_dataset *d, char *buf, size_t size)
{
    if (!buf || size == 0) return;
    buf[0] = '\0';
    if (!d || d->count < 1 || !d->x) return;
    unsigned long crc = crc32(0L, Z_NULL, 0);
    crc = crc_of(crc, d->x, (size_t)(d->count * d->sample_size) * sizeof *d->x);
    if (d->labels)
        crc = crc_of(crc, d->labels,
                     (size_t)(d->count * cg_dataset_labels_per_sample(d)) * sizeof *d->labels);
    if (d->y) crc = crc_of(crc, d->y, (size_t)(d->count * d->target_size) * sizeof *d->y);
    snprintf(buf, size, "%lld samples, crc32 %08lx", (long long)d->count, crc);
}
