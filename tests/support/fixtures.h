/* Golden fixtures: safetensors files written by fixtures/generate.py. A test
 * program reads one file, loaded once for its cmocka group; a case names its
 * tensors and metadata "<case>.<field>". A lookup that must succeed fails the
 * running test (fail_msg) with the missing name. */
#ifndef CG_TEST_FIXTURES_H
#define CG_TEST_FIXTURES_H

#include <stddef.h>

#include "cgrad.h"

/* Loads path as the fixture; 0, or -1 with the reason on stderr. */
int fx_load(const char *path);
/* cmocka group teardown: frees the fixture. */
int fx_free(void **state);
/* The loaded fixture, for lookups that may miss. */
const cg_st_file *fx_file(void);

/* "<a>.<b>" into buf; a name that does not fit is a broken fixture. */
const char *fx_join(char *buf, size_t size, const char *a, const char *b);
/* Metadata `key`, which must exist. */
const char *fx_meta(const char *key);
/* Metadata "<case>.<field>", or NULL. */
const char *fx_meta_opt(const char *case_name, const char *field);
/* Tensor "<case>.<field>", which must exist. */
const cg_st_entry *fx_entry(const char *case_name, const char *field);
/* Splits the comma-separated list into names[] (at most max); returns the
 * count. A NULL list is a fixture without the case list. */
int fx_split_list(const char *list, char names[][64], int max);

/* Tensor "<case>.<field>" (F32) as a leaf of ctx that wants a gradient. */
cg_tensor *fx_input(cg_ctx *ctx, const char *case_name, const char *field);

/* What a layer's golden case compares with torch, and the largest error
 * seen for each, relative to the tensor's largest value: [0] against the
 * float64 answer, [1] against torch's own float32 (recorded only). */
typedef enum fx_field { FX_Y, FX_DX, FX_DW, FX_DB, FX_N_FIELDS } fx_field;
typedef double fx_worst[2][FX_N_FIELDS];

/* got[0..n) against "<case>.<field>" (within tol of its largest value, or
 * the running test fails) and "<case>.<field>32"; updates worst. */
void fx_check_field(const float *got, int64_t n, const char *case_name, fx_field field,
                    double tol, fx_worst worst);
/* "<what>, largest error ... (<n> cases):" and both rows of worst. */
void fx_print_worst(const char *what, int n_cases, fx_worst worst);

#endif
