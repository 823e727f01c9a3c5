/* Tables (CSV with named columns): header detection, columns by name or
 * index, text class labels and categorical features learned into a
 * cg_table, the table's JSON, reading new tables as a stored table says,
 * missing cells, and the normalize layer's statistics against an
 * independent computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "errors.h"
#include "tmpdir.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_create("cg_tables");
}

static const char *write_table(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

static char spec_buf[1200];

static const char *csv_spec(const char *path, const char *suffix)
{
    snprintf(spec_buf, sizeof spec_buf, "csv:%s%s", path, suffix);
    return spec_buf;
}

/* Fails unless loading gives `status` and a message containing `where`
 * (e.g. ":4:9: ") and then `what`. */
static void expect_load_error(const char *spec, const cg_data_options *o, cg_status status,
                              const char *where, const char *what)
{
    cg_dataset d;
    cg_status s = cg_dataset_load_spec(&d, spec, o);
    const char *msg = cg_last_error();
    const char *at = where ? strstr(msg, where) : msg;
    if (s != status || !at || !strstr(at, what))
        fail_msg("%s: status %s, message \"%s\"; wanted %s with \"%s\" then \"%s\"", spec,
                 cg_status_name(s), msg, cg_status_name(status), where ? where : "", what);
    assert_null(d.x);
}

/* A header with a quoted comma, CRLF and a BOM; text labels; a categorical
 * column whose values have commas. */
static const char *const CITIES =
    "\xEF\xBB\xBF" "\"size, cm\",city,kind\r\n"
    "1.5,Paris,small\r\n"
    "2.5,\"New York, NY\",big\r\n"
    "-1,Lagos,small\r\n"
    "4,\"New York, NY\",\"big\"\r\n"
    "\r\n";

static void learns_labels_and_categories(void **state)
{
    (void)state;
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(write_table("cities.csv", CITIES), ""), NULL),
                     CG_OK);
    const cg_table *t = d.table;
    assert_non_null(t);
    assert_true(t->header_detected);
    assert_int_equal(t->n_columns, 3);
    assert_string_equal(t->names[0], "size, cm");
    assert_int_equal(t->target, 2);
    assert_int_equal(t->n_features, 2);
    assert_int_equal(t->features[0].n_categories, 0);
    /* Sorted bytewise: "Lagos" < "New York, NY" < "Paris". */
    assert_int_equal(t->features[1].n_categories, 3);
    assert_string_equal(t->features[1].categories[0], "Lagos");
    assert_string_equal(t->features[1].categories[1], "New York, NY");
    assert_string_equal(t->features[1].categories[2], "Paris");
    assert_int_equal(t->n_classes, 2);
    assert_string_equal(t->classes[0], "big");
    assert_string_equal(t->classes[1], "small");
    assert_int_equal(d.count, 4);
    assert_int_equal(d.sample_size, 4);
    assert_int_equal(d.num_classes, 2);
    const float x[16] = {1.5f, 0, 0, 1, 2.5f, 0, 1, 0, -1, 1, 0, 0, 4, 0, 1, 0};
    for (int i = 0; i < 16; i++)
        if (d.x[i] != x[i]) fail_msg("x[%d] is %g, expected %g", i, (double)d.x[i], (double)x[i]);
    const int32_t labels[4] = {1, 0, 1, 0};
    for (int i = 0; i < 4; i++) assert_int_equal(d.labels[i], labels[i]);
    cg_dataset_free(&d);
}

static void table_json_round_trip(void **state)
{
    (void)state;
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(write_table("cities.csv", CITIES), ""), NULL),
                     CG_OK);
    char *json = cg_table_to_json(d.table);
    assert_non_null(json);
    assert_string_equal(json, "{\"columns\":3,\"target\":2,\"names\":[\"size, cm\",\"city\",\"kind\"],"
                              "\"features\":[{\"column\":0},{\"column\":1,\"categories\":[\"Lagos\","
                              "\"New York, NY\",\"Paris\"]}],\"classes\":[\"big\",\"small\"]}");
    cg_table *back;
    assert_int_equal(cg_table_from_json(json, &back), CG_OK);
    char *again = cg_table_to_json(back);
    assert_string_equal(again, json);
    assert_int_equal(back->sample_size, 4);
    char *classes = cg_table_classes_json(back);
    assert_string_equal(classes, "[\"big\",\"small\"]");
    free(classes);
    free(again);
    free(json);
    cg_table_free(back);
    cg_dataset_free(&d);
    static const char *const bad[] = {
        "[]",
        "{\"columns\":3,\"target\":3,\"features\":[{\"column\":0}]}",
        "{\"columns\":3,\"target\":2,\"features\":[{\"column\":2}]}",
        "{\"columns\":3,\"target\":2,\"features\":[{\"column\":0,\"categories\":[\"b\",\"a\"]}]}",
        "{\"columns\":3,\"target\":2,\"names\":[\"a\"],\"features\":[{\"column\":0}]}",
        "{\"columns\":3,\"target\":2,\"features\":[{\"column\":0}],\"classes\":[\"a\",\"a\"]}",
        "{\"columns\":3,\"target\":-1,\"features\":[{\"column\":0}],\"classes\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cg_table *t = (cg_table *)1;
        if (cg_table_from_json(bad[i], &t) != CG_ERR_FORMAT || t)
            fail_msg("case %zu was accepted: %s", i, bad[i]);
        assert_non_null(strstr(cg_last_error(), "table: "));
    }
}

/* A stored table reads another file: columns by name in any order, the
 * target optional, unseen labels and categories refused with line and
 * column, or a category ignored. */
static void applies_a_table(void **state)
{
    (void)state;
    cg_dataset train, d;
    assert_int_equal(cg_dataset_load_spec(&train, csv_spec(write_table("cities.csv", CITIES), ""),
                                          NULL), CG_OK);
    cg_data_options o = {.table = train.table, .targets_optional = true};
    const char *moved = write_table("moved.csv", "city,extra,\"size, cm\"\nLagos,9,3\nParis,9,5\n");
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(moved, ""), &o), CG_OK);
    assert_null(d.labels);
    const float x[8] = {3, 1, 0, 0, 5, 0, 0, 1};
    for (int i = 0; i < 8; i++) assert_true(d.x[i] == x[i]);
    cg_dataset_free(&d);
    /* By position without a header: all columns, or all but the target. */
    const char *bare = write_table("bare.csv", "3,Lagos\n5,Paris\n");
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(bare, ""), &o), CG_OK);
    for (int i = 0; i < 8; i++) assert_true(d.x[i] == x[i]);
    cg_dataset_free(&d);
    expect_load_error(csv_spec(write_table("one.csv", "3\n5\n"), ""), &o, CG_ERR_ARG, NULL,
                      "has 1 columns; the model reads 4 inputs from a table of 3 columns: give "
                      "all 3, or the 2 without the target (column 3)");
    o.targets_optional = false;
    expect_load_error(csv_spec(moved, ""), &o, CG_ERR_ARG, NULL, "has no target column ('kind')");
    expect_load_error(csv_spec(write_table("rose.csv", "kind,city,\"size, cm\"\nbig,Lagos,1\nrose,Paris,2\n"), ""),
                      &o, CG_ERR_FORMAT, ":3:1: ",
                      "unknown class label 'rose'; the model knows 'big', 'small'");
    const char *oslo = write_table("oslo.csv", "\"size, cm\",city,kind\n1,Lagos,big\n2,Oslo,small\n");
    expect_load_error(csv_spec(oslo, ""), &o, CG_ERR_FORMAT, ":3:3: ",
                      "'Oslo' is not a category of column 2 seen in training ('Lagos', "
                      "'New York, NY', 'Paris')");
    o.unknown_ignore = true;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(oslo, ""), &o), CG_OK);
    const float y[8] = {1, 1, 0, 0, 2, 0, 0, 0};
    for (int i = 0; i < 8; i++) assert_true(d.x[i] == y[i]);
    assert_int_equal(d.labels[1], 1);
    cg_dataset_free(&d);
    expect_load_error(csv_spec(write_table("nocity.csv", "\"size, cm\",kind\n1,big\n"), ""), &o,
                      CG_ERR_ARG, NULL, "no column 'city', which the model reads; the file's "
                      "columns are 'size, cm', 'kind'");
    cg_dataset_free(&train);
    /* A name the training table had twice: its occurrences in order. */
    assert_int_equal(cg_dataset_load_spec(&train, csv_spec(write_table("dup.csv", "a,a,t\n1,2,0\n"), ""),
                                          NULL), CG_OK);
    o = (cg_data_options){.table = train.table};
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(write_table("dup2.csv", "t,a,b,a\n1,5,0,6\n"), ""),
                                          &o), CG_OK);
    assert_true(d.x[0] == 5 && d.x[1] == 6 && d.labels[0] == 1);
    cg_dataset_free(&d);
    cg_dataset_free(&train);
}

/* The first row is a header only when none of its fields is a number. */
static void header_rules(void **state)
{
    (void)state;
    const char *typo = write_table("typo.csv", "0.1,0.2,O.3,0.4,1\n0.5,0.6,0.7,0.8,0\n1,2,3,4,1\n");
    expect_load_error(csv_spec(typo, ""), NULL, CG_ERR_FORMAT, ":1:9: ",
                      "'O.3' is not a number (line 1 has numbers, so it was read as data; if it "
                      "is a header, say so: csv:PATH,header=yes)");
    const char *years = write_table("years.csv", "2019,2020,label\n1,2,0\n3,4,1\n");
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(years, ",header=yes"), NULL), CG_OK);
    assert_int_equal(d.count, 2);
    assert_false(d.table->header_detected);
    assert_string_equal(d.table->names[1], "2020");
    cg_dataset_free(&d);
    const char *named = write_table("named.csv", "a,b,label\n1,2,0\n");
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(named, ""), NULL), CG_OK);
    assert_true(d.table->header_detected);
    assert_int_equal(d.count, 1);
    cg_dataset_free(&d);
    expect_load_error(csv_spec(named, ",header=no"), NULL, CG_ERR_FORMAT, ":1:1: ",
                      "'a' is not a number");
    expect_load_error(csv_spec(named, ",header=auto"), NULL, CG_ERR_ARG, NULL,
                      "header=auto; expected header=yes or header=no");
}

static void columns_by_name_or_index(void **state)
{
    (void)state;
    const char *p = write_table("cols.csv", "id,label,a,b\n7,1,0.5,2\n8,0,1.5,3\n");
    cg_data_options o = {.target = "label", .features = "b,3"};
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_int_equal(d.sample_size, 2);
    assert_true(d.x[0] == 2 && d.x[1] == 0.5f && d.x[2] == 3 && d.x[3] == 1.5f);
    assert_int_equal(d.labels[0], 1);
    cg_dataset_free(&d);
    o = (cg_data_options){.target = "2", .features = "a"};
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_int_equal(d.table->target, 1);
    cg_dataset_free(&d);
    o = (cg_data_options){.target = "klass"};
    expect_load_error(csv_spec(p, ""), &o, CG_ERR_ARG, NULL,
                      "--target: no column 'klass'; the columns are 'id', 'label', 'a', 'b'");
    o = (cg_data_options){.target = "label", .features = "a,label"};
    expect_load_error(csv_spec(p, ""), &o, CG_ERR_ARG, NULL, "--features: column 2 is the target");
    o = (cg_data_options){.target = "label", .features = "a,3"};
    expect_load_error(csv_spec(p, ""), &o, CG_ERR_ARG, NULL, "--features: column 3 is given twice");
    const char *bare = write_table("bare.csv", "1,2,0\n");
    o = (cg_data_options){.target = "4"};
    expect_load_error(csv_spec(bare, ""), &o, CG_ERR_ARG, NULL,
                      "no column '4'; the columns are no header, so by index: 1 to 3");
}

/* Predicting on a plain numeric table (a model without a stored table):
 * the model's input size says whether the target column is there. */
static void input_size_decides(void **state)
{
    (void)state;
    const char *p = write_table("four.csv", "1,2,3,4\n5,6,7,8\n");
    cg_data_options o = {.targets_optional = true, .sample_ndim = 1, .sample_shape = {4}};
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_null(d.labels);
    assert_int_equal(d.sample_size, 4);
    cg_dataset_free(&d);
    o.sample_shape[0] = 3;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_non_null(d.labels);
    cg_dataset_free(&d);
    o.sample_shape[0] = 5;
    expect_load_error(csv_spec(p, ""), &o, CG_ERR_ARG, NULL,
                      "has 4 columns; the model takes 5 inputs, so a table for it has 5 columns "
                      "(inputs only) or 6 (inputs, then the target)");
}

static void classes_file_and_bce(void **state)
{
    (void)state;
    const char *p = write_table("yn.csv", "a,answer\n1,yes\n2,no\n3,yes\n");
    const char *classes = write_table("classes.txt", " yes \n\nno\n");
    cg_data_options o = {.classes_path = classes};
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_string_equal(d.table->classes[0], "yes");
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[1], 1);
    cg_dataset_free(&d);
    o.classes_path = write_table("twice.txt", "yes\nno\nyes\n");
    expect_load_error(csv_spec(p, ""), &o, CG_ERR_FORMAT, "twice.txt:3:1: ", "'yes' is listed twice");
    /* bce_with_logits: two names become 0 and 1 (sorted), numbers must be in [0, 1]. */
    o = (cg_data_options){.regression = true, .unit_targets = true};
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_true(d.y[0] == 1 && d.y[1] == 0 && d.y[2] == 1);
    cg_dataset_free(&d);
    const char *three = write_table("three.csv", "a,t\n1,x\n2,y\n3,z\n");
    expect_load_error(csv_spec(three, ""), &o, CG_ERR_ARG, NULL,
                      "bce_with_logits needs 2 class names for 0 and 1, the target has 3");
    const char *probs = write_table("probs.csv", "a,t\n1,0.25\n2,-0.5\n");
    expect_load_error(csv_spec(probs, ""), &o, CG_ERR_FORMAT, ":3:3: ",
                      "target -0.5 is outside [0, 1]");
    o.unit_targets = false;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(probs, ""), &o), CG_OK);
    cg_dataset_free(&d);
}

/* x: 5 rows of [a, constant, b] with one missing a; the normalize layer's
 * statistics against a two-pass computation in double, and its output. */
static void normalize_statistics(void **state)
{
    (void)state;
    const char *p = write_table("gaps.csv", "a,c,b,t\n1.5,3,10,0\nNA,3,-20,1\n4,3,35.5,0\n"
                                            "-2,3,0.25,1\n7.25,3,1e3,0\n");
    cg_data_options o = {.allow_missing = true};
    cg_dataset d;
    assert_int_equal(cg_dataset_load_spec(&d, csv_spec(p, ""), &o), CG_OK);
    assert_true(isnan(d.x[3]));
    expect_load_error(csv_spec(p, ""), NULL, CG_ERR_FORMAT, ":3:1: ", "missing value 'NA'");

    cg_model_spec *spec = cg_model_spec_create(1, (const int64_t[]){3});
    assert_non_null(spec);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"normalize\", \"impute\": \"mean\"}"), CG_OK);
    assert_int_equal(cg_model_spec_add_layer(spec, "{\"type\": \"dense\", \"units\": 2}"), CG_OK);
    assert_true(cg_model_spec_fills_missing(spec));
    cg_rng rng = cg_train_rng(1, 0, CG_STREAM_INIT);
    cg_model *model = cg_model_create(spec, &rng);
    assert_non_null(model);
    assert_int_equal(cg_model_adapt(model, &d), CG_OK);
    const cg_buffer *mean = cg_model_buffer_at(model, 0), *var = cg_model_buffer_at(model, 1);
    assert_string_equal(mean->name, "layers.0.mean");
    assert_string_equal(var->name, "layers.0.var");
    for (int j = 0; j < 3; j++) {
        double sum = 0, sq = 0;
        int n = 0;
        for (int i = 0; i < 5; i++)
            if (!isnan(d.x[i * 3 + j])) sum += d.x[i * 3 + j], n++;
        double m = sum / n;
        for (int i = 0; i < 5; i++)
            if (!isnan(d.x[i * 3 + j])) sq += (d.x[i * 3 + j] - m) * (d.x[i * 3 + j] - m);
        double v = sq / n > 0 ? sq / n : 1.0;   /* a constant feature: variance 1 */
        assert_float_equal(((const float *)mean->data)[j], m, 1e-5 * fabs(m) + 1e-6);
        assert_float_equal(((const float *)var->data)[j], v, 1e-5 * v);
    }
    /* The layer's output: a missing value becomes 0 (its mean), the rest standardised. */
    cg_model_spec *alone = cg_model_spec_create(1, (const int64_t[]){3});
    assert_int_equal(cg_model_spec_add_layer(alone, "{\"type\": \"normalize\", \"impute\": \"mean\"}"), CG_OK);
    cg_model *norm = cg_model_create(alone, &rng);
    assert_int_equal(cg_model_adapt(norm, &d), CG_OK);
    cg_ctx *ctx = cg_ctx_create(1 << 16);
    cg_tensor *x = cg_tensor_from(ctx, 2, (const int64_t[]){5, 3}, d.x);
    cg_tensor *y = cg_model_forward(ctx, norm, x);
    assert_non_null(y);
    for (int i = 0; i < 15; i++) {
        int j = i % 3;
        double m = ((const float *)mean->data)[j], v = ((const float *)var->data)[j];
        double want = isnan(d.x[i]) ? 0 : (d.x[i] - m) / sqrt(v);
        assert_float_equal(y->data[i], want, 1e-5);
    }
    cg_ctx_destroy(ctx);
    cg_model_destroy(norm);
    cg_model_spec_free(alone);
    cg_model_destroy(model);
    cg_model_spec_free(spec);
    cg_dataset_free(&d);
}

static void normalize_in_model_files(void **state)
{
    (void)state;
    cg_model_spec *spec = NULL;
    assert_int_equal(cg_model_spec_parse("{\"input\": [4], \"layers\": [{\"type\": \"dense\", "
                                         "\"units\": 3}, {\"type\": \"normalize\"}, {\"type\": "
                                         "\"dense\", \"units\": 2}]}", &spec), CG_ERR_FORMAT);
    assert_error_mentions("layers[1]", "must read the model's input");
    assert_int_equal(cg_model_spec_parse("{\"input\": [2, 2], \"layers\": [{\"type\": "
                                         "\"normalize\"}, {\"type\": \"flatten\"}, {\"type\": "
                                         "\"dense\", \"units\": 2}]}", &spec), CG_ERR_FORMAT);
    assert_error_mentions("normalize takes a flat input [features], got [2, 2]", NULL);
    assert_int_equal(cg_model_spec_parse("{\"input\": [4], \"layers\": [{\"type\": \"normalize\", "
                                         "\"impute\": \"median\"}, {\"type\": \"dense\", \"units\": "
                                         "2}]}", &spec), CG_ERR_FORMAT);
    assert_error_mentions("layers[0].impute", "expected \"mean\"");
    assert_int_equal(cg_model_spec_parse("{\"input\": [4], \"layers\": [{\"type\": \"normalize\"}, "
                                         "{\"type\": \"dense\", \"units\": 2}], \"data\": "
                                         "{\"unknown\": \"ignore\"}}", &spec), CG_OK);
    assert_true(spec->data.unknown_ignore);
    assert_false(cg_model_spec_fills_missing(spec));
    assert_int_equal(spec->n_buffers, 8);
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(strstr(json, "{\"type\":\"normalize\",\"impute\":\"none\"}"));
    assert_non_null(strstr(json, "\"data\":{\"unknown\":\"ignore\"}"));
    free(json);
    cg_model_spec_free(spec);
    assert_int_equal(cg_model_spec_parse("{\"input\": [4], \"layers\": [{\"type\": \"dense\", "
                                         "\"units\": 2}], \"data\": {\"unknown\": \"skip\"}}",
                                         &spec), CG_ERR_FORMAT);
    assert_error_mentions("data.unknown", "expected \"error\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_labels_and_categories),
        cmocka_unit_test(table_json_round_trip),
        cmocka_unit_test(applies_a_table),
        cmocka_unit_test(header_rules),
        cmocka_unit_test(columns_by_name_or_index),
        cmocka_unit_test(input_size_decides),
        cmocka_unit_test(classes_file_and_bce),
        cmocka_unit_test(normalize_statistics),
        cmocka_unit_test(normalize_in_model_files),
    };
    return cmocka_run_group_tests(tests, setup, tmp_dir_remove);
}
