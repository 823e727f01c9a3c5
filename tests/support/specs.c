/* Model-file checks shared by the layer and graph tests; see specs.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "specs.h"

void expect_spec_error(const char *json, const char *expect)
{
    cg_model_spec *spec = (cg_model_spec *)1;
    cg_status s = cg_model_spec_parse(json, &spec);
    if (s == CG_OK || !strstr(cg_last_error(), expect))
        fail_msg("for %s\n  expected an error containing: %s\n  got (%s): %s", json, expect,
                 cg_status_name(s), cg_last_error());
    assert_int_equal(s, CG_ERR_FORMAT);
    assert_null(spec);
}

cg_model_spec *parse_spec(const char *json)
{
    cg_model_spec *spec = NULL;
    if (cg_model_spec_parse(json, &spec) != CG_OK) fail_msg("%s: %s", json, cg_last_error());
    return spec;
}

void expect_spec_round_trip(const cg_model_spec *spec, const char *const *written, int n)
{
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(json);
    for (int i = 0; i < n; i++)
        if (!strstr(json, written[i])) fail_msg("%s\n  lacks %s", json, written[i]);
    cg_model_spec *again = parse_spec(json);
    char *json2 = cg_model_spec_to_json(again);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    cg_model_spec_free(again);
}
