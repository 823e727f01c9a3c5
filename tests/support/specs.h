/* Model-file checks shared by the layer and graph tests. */
#ifndef CG_TEST_SPECS_H
#define CG_TEST_SPECS_H

#include "cgrad.h"

/* Parses text that must fail with CG_ERR_FORMAT and a message containing
 * `expect`; fails the running test otherwise. */
void expect_spec_error(const char *json, const char *expect);
/* Parses text that must succeed; fails the running test with the message
 * otherwise. */
cg_model_spec *parse_spec(const char *json);

/* The spec's canonical JSON holds each of written[0..n) (a layer as it is
 * written back) and parses back to the same text. */
void expect_spec_round_trip(const cg_model_spec *spec, const char *const *written, int n);

#endif
