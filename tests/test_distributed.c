/* The process-group API in a process started without an MPI launcher (how
 * every other test and a plain `cgrad train` run): a group of one whose
 * agreement passes statuses through, and training with that group equals
 * training without one, bit for bit. The multi-rank behaviour is tested
 * under mpirun by tests/cli/mpi_train.sh. */
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

static const char *const MODEL =
    "{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"},"
    " {\"type\": \"dropout\", \"rate\": 0.3}, {\"type\": \"dense\", \"units\": 2}],"
    " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1, \"momentum\": 0.9},"
    " \"train\": {\"epochs\": 3, \"batch\": 4, \"seed\": 3}}";

#define N 22

static float xs[N * 3];
static int32_t labels[N];

static cg_dataset make_data(void)
{
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2;
        for (int j = 0; j < 3; j++) xs[i * 3 + j] = sinf((float)(i * 3 + j)) + (float)labels[i];
    }
    cg_dataset d = {.count = N, .sample_ndim = 1, .sample_shape = {3}, .sample_size = 3,
                    .x = xs, .labels = labels, .num_classes = 2};
    snprintf(d.source, sizeof d.source, "test data");
    return d;
}

/* The launchers' variables, so that this test runs alone even from a shell
 * that mpirun started. */
static void forget_launcher(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "PMIX_RANK",
                          "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void group_of_one(void **state)
{
    forget_launcher();
    cg_dist *d = NULL;
    assert_int_equal(cg_dist_init(NULL, NULL, &d), CG_OK);
    assert_non_null(d);
    assert_int_equal(cg_dist_rank(d), 0);
    assert_int_equal(cg_dist_size(d), 1);
    assert_int_equal(cg_dist_rank(NULL), 0);
    assert_int_equal(cg_dist_size(NULL), 1);
    /* Alone, agreeing is the identity: the status and message stay. */
    assert_int_equal(cg_dist_agree(d, CG_OK), CG_OK);
    cg_set_error(CG_ERR_IO, "disk full");
    assert_int_equal(cg_dist_agree(d, CG_ERR_IO), CG_ERR_IO);
    assert_string_equal(cg_last_error(), "disk full");
    int rank = -1;
    assert_int_equal(cg_dist_first_failure(d, 2, &rank), 2);
    assert_int_equal(rank, 0);
    assert_int_equal(cg_dist_first_failure(d, 0, &rank), 0);
    assert_true(cg_dist_comm_seconds(d) == 0.0);
    cg_dist_abort(d, 3); /* a group of one: returns, the caller exits */
    cg_dist_finalize(d);
    cg_dist_finalize(NULL);
    assert_int_equal(cg_dist_init(NULL, NULL, NULL), CG_ERR_ARG);
}

/* A build without MPI refuses to run as one of several launched copies:
 * each would train alone and write the same checkpoint. */
static void refuses_a_launcher_without_mpi(void **state)
{
    if (cg_dist_compiled()) skip(); /* it would join a real job */
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    cg_dist *d = NULL;
    assert_int_equal(cg_dist_init(NULL, NULL, &d), CG_ERR_STATE);
    assert_null(d);
    assert_non_null(strstr(cg_last_error(), "built without MPI"));
    forget_launcher();
}

/* Trains MODEL with o.dist = dist; returns the model (weights to compare). */
static cg_model *train_with(cg_dist *dist, cg_model_spec **spec, cg_optim **opt)
{
    assert_int_equal(cg_model_spec_parse(MODEL, spec), CG_OK);
    cg_rng rng = cg_train_rng((*spec)->train.seed, 0, CG_STREAM_INIT);
    cg_model *m = cg_model_create(*spec, &rng);
    assert_non_null(m);
    *opt = cg_optim_create(cg_model_params(m), &(*spec)->optim);
    assert_non_null(*opt);
    cg_train_state st = cg_train_state_init((*spec)->train.seed);
    cg_train_options o = cg_train_options_from_spec(*spec, (*spec)->optim.lr);
    o.dist = dist;
    cg_dataset data = make_data();
    assert_int_equal(cg_dist_broadcast_model(dist, m), CG_OK);
    assert_int_equal(cg_train(m, *opt, &data, &data, &o, &st), CG_OK);
    assert_int_equal(st.epoch, 3);
    assert_int_equal(st.step, 3 * 6);
    return m;
}

static void training_alone_is_unchanged(void **state)
{
    forget_launcher();
    cg_dist *d = NULL;
    assert_int_equal(cg_dist_init(NULL, NULL, &d), CG_OK);
    cg_model_spec *sa, *sb;
    cg_optim *oa, *ob;
    cg_model *a = train_with(NULL, &sa, &oa), *b = train_with(d, &sb, &ob);
    cg_params *pa = cg_model_params(a), *pb = cg_model_params(b);
    assert_memory_equal(cg_params_data(pa), cg_params_data(pb),
                        (size_t)cg_params_numel(pa) * sizeof(float));
    cg_optim_destroy(oa);
    cg_optim_destroy(ob);
    cg_model_destroy(a);
    cg_model_destroy(b);
    cg_model_spec_free(sa);
    cg_model_spec_free(sb);
    cg_dist_finalize(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_of_one),
        cmocka_unit_test(refuses_a_launcher_without_mpi),
        cmocka_unit_test(training_alone_is_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
