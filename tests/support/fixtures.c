/* Golden-fixture access; see fixtures.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

static cg_st_file *fixture;

int fx_load(const char *path)
{
    if (cg_safetensors_load(path, &fixture) != CG_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, cg_last_error());
        return -1;
    }
    return 0;
}

int fx_free(void **state)
{
    (void)state;
    cg_safetensors_free(fixture);
    fixture = NULL;
    return 0;
}

const cg_st_file *fx_file(void)
{
    return fixture;
}

const char *fx_join(char *buf, size_t size, const char *a, const char *b)
{
    if (snprintf(buf, size, "%s.%s", a, b) >= (int)size) fail_msg("name too long: %s.%s", a, b);
    return buf;
}

const char *fx_meta(const char *key)
{
    const char *v = cg_st_meta(fixture, key);
    if (!v) fail_msg("fixture has no metadata \"%s\"", key);
    return v;
}

const char *fx_meta_opt(const char *case_name, const char *field)
{
    char key[256];
    return cg_st_meta(fixture, fx_join(key, sizeof key, case_name, field));
}

const cg_st_entry *fx_entry(const char *case_name, const char *field)
{
    char name[256];
    const cg_st_entry *e = cg_st_find(fixture, fx_join(name, sizeof name, case_name, field));
    if (!e) fail_msg("fixture has no tensor \"%s\"", name);
    return e;
}

int fx_split_list(const char *list, char names[][64], int max)
{
    if (!list) fail_msg("fixture lacks a case list");
    int n = 0;
    const char *s = list;
    while (*s && n < max) {
        size_t len = strcspn(s, ",");
        if (len >= 64) fail_msg("list entry too long in \"%s\"", list);
        memcpy(names[n], s, len);
        names[n++][len] = '\0';
        s += len;
        if (*s == ',') s++;
    }
    return n;
}

cg_tensor *fx_input(cg_ctx *ctx, const char *case_name, const char *field)
{
    const cg_st_entry *e = fx_entry(case_name, field);
    assert_int_equal(e->dtype, CG_DTYPE_F32);
    cg_tensor *t = cg_tensor_from(ctx, e->ndim, e->shape, e->data);
    assert_non_null(t);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

static const char *const field_names[FX_N_FIELDS] = {"y", "dx", "dw", "db"};

void fx_check_field(const float *got, int64_t n, const char *case_name, fx_field field,
                    double tol, fx_worst worst)
{
    const char *name = field_names[field];
    if (!got) fail_msg("%s.%s: no result (%s)", case_name, name, cg_last_error());
    char name32[16];
    snprintf(name32, sizeof name32, "%s32", name);
    for (int k = 0; k < 2; k++) {
        const cg_st_entry *e = fx_entry(case_name, k ? name32 : name);
        int64_t want_n = 1;
        for (int i = 0; i < e->ndim; i++) want_n *= e->shape[i];
        if (want_n != n)
            fail_msg("%s.%s: %lld values, torch has %lld", case_name, name, (long long)n,
                     (long long)want_n);
        const float *want = e->data;
        double scale = 0;
        for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
        for (int64_t i = 0; i < n; i++) {
            double err = fabs((double)got[i] - (double)want[i]) / (scale > 0 ? scale : 1);
            if (k == 0 && !(err <= tol))
                fail_msg("%s.%s[%lld]: got %.9g, torch %.9g (error %.3g of the largest %.3g)",
                         case_name, name, (long long)i, (double)got[i], (double)want[i], err,
                         scale);
            worst[k][field] = fmax(worst[k][field], err);
        }
    }
}

void fx_print_worst(const char *what, int n_cases, fx_worst worst)
{
    printf("%s, largest error relative to the tensor's largest value (%d cases):\n", what, n_cases);
    for (int k = 0; k < 2; k++) {
        printf("  vs torch %s:", k ? "float32" : "float64");
        for (int f = 0; f < FX_N_FIELDS; f++) printf("  %s %.2g", field_names[f], worst[k][f]);
        printf("\n");
    }
}
