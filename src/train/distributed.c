/* Process groups for data-parallel training: the only file that talks to
 * MPI. Built without MPI (CG_HAVE_MPI undefined), a group is always one
 * process and every collective returns at once.
 *
 * Errors: the communicator keeps MPI's default handler (errors are fatal),
 * so a rank that dies takes the job down through the launcher instead of
 * leaving the others blocked in a collective. Failures a rank can report
 * (a missing file, a NaN) travel through cg_dist_agree instead, so every
 * rank stops at the same point with the same message. */
#include "distributed.h"
#include "train_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CG_HAVE_MPI
#include <mpi.h>
#endif

struct cg_dist {
    int rank;
    int size;
    bool joined;            /* we called MPI_Init, so we finalize */
    bool has_comm;          /* comm is ours to free */
    double comm_seconds;    /* in cg__dist_sum_grads */
#ifdef CG_HAVE_MPI
    MPI_Comm comm;          /* our own duplicate of MPI_COMM_WORLD */
#endif
};

/* Variables the common launchers set: OpenMPI's mpirun, MPICH's hydra and
 * srun (PMI), PMIx, MVAPICH. Without them MPI_Init would start a singleton,
 * which is slow and pointless. */
static int launcher_world_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 1;
    }
    return getenv("PMIX_RANK") ? 2 : 0; /* PMIx without a size: some group */
}

bool cg_dist_compiled(void)
{
#ifdef CG_HAVE_MPI
    return true;
#else
    return false;
#endif
}

#ifdef CG_HAVE_MPI
static cg_status join(cg_dist *d, int *argc, char ***argv)
{
    int already = 0, provided = 0;
    MPI_Initialized(&already);
    /* FUNNELED: OpenMP threads compute, only the main thread calls MPI. */
    if (!already && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cg_set_error(CG_ERR_STATE, "MPI_Init failed");
    d->joined = !already;
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    d->has_comm = true;
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    return CG_OK;
}
#endif

cg_status cg_dist_init(int *argc, char ***argv, cg_dist **out)
{
    if (!out) return cg_set_error(CG_ERR_ARG, "cg_dist_init: out is NULL");
    *out = NULL;
    int launched = launcher_world_size();
#ifndef CG_HAVE_MPI
    /* N copies each training alone on all the data, all writing the same
     * checkpoint, would be worse than refusing. */
    (void)argc, (void)argv;
    if (launched > 1)
        return cg_set_error(CG_ERR_STATE, "started by an MPI launcher (%d processes), but this "
                                          "cgrad was built without MPI; install libopenmpi-dev "
                                          "and rebuild, or run one process",
                            launched);
#endif
    cg_dist *d = calloc(1, sizeof *d);
    if (!d) return cg_set_error(CG_ERR_NOMEM, "cg_dist_init: out of memory");
    d->size = 1;
#ifdef CG_HAVE_MPI
    if (launched > 0 && join(d, argc, argv) != CG_OK) {
        free(d);
        return cg_last_status();
    }
#endif
    *out = d;
    return CG_OK;
}

void cg_dist_finalize(cg_dist *d)
{
    if (!d) return;
#ifdef CG_HAVE_MPI
    /* A program that initialised MPI itself also finalizes it. */
    if (d->has_comm) MPI_Comm_free(&d->comm);
    if (d->joined) MPI_Finalize();
#endif
    free(d);
}

int cg_dist_rank(const cg_dist *d) { return d ? d->rank : 0; }
int cg_dist_size(const cg_dist *d) { return d ? d->size : 1; }
double cg_dist_comm_seconds(const cg_dist *d) { return d ? d->comm_seconds : 0.0; }
bool cg__dist_active(const cg_dist *d) { return d && d->size > 1; }

void cg__dist_share_of(const cg_dist *d, int rank, int64_t first, int64_t n, int64_t *begin,
                       int64_t *count)
{
    int64_t r = rank, size = cg_dist_size(d);
    int64_t lo = n * r / size, hi = n * (r + 1) / size;
    *begin = first + lo;
    *count = hi - lo;
}

void cg__dist_share(const cg_dist *d, int64_t first, int64_t n, int64_t *mine, int64_t *count)
{
    cg__dist_share_of(d, cg_dist_rank(d), first, n, mine, count);
}

void cg_dist_abort(cg_dist *d, int code)
{
#ifdef CG_HAVE_MPI
    if (cg__dist_active(d)) MPI_Abort(d->comm, code);
#else
    (void)d, (void)code;
#endif
}

#ifdef CG_HAVE_MPI
/* Has an earlier agreement already named the rank ("rank 3: ...")? Then
 * agreeing on it again must not name rank 0 on top. */
static bool names_a_rank(const char *message)
{
    if (strncmp(message, "rank ", 5) != 0) return false;
    const char *p = message + 5;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    return p[0] == ':' && p[1] == ' ';
}

/* The lowest failing rank, then its status and message to everyone. */
static cg_status agree_over(cg_dist *d, cg_status local)
{
    int mine = local != CG_OK ? d->rank : d->size, first = d->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (first == d->size) return CG_OK;
    struct {
        int status;
        char message[1000];
    } m = {0};
    if (d->rank == first) {
        m.status = (int)local;
        const char *text = cg_last_error();
        if (names_a_rank(text))
            snprintf(m.message, sizeof m.message, "%s", text);
        else
            snprintf(m.message, sizeof m.message, "rank %d: %s", first, text);
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, d->comm);
    return cg_set_error((cg_status)m.status, "%s", m.message);
}
#endif

cg_status cg_dist_agree(cg_dist *d, cg_status local)
{
#ifdef CG_HAVE_MPI
    if (cg__dist_active(d)) return agree_over(d, local);
#else
    (void)d;
#endif
    return local;
}

cg_status cg__dist_sum(cg_dist *d, double *v, int n)
{
#ifdef CG_HAVE_MPI
    if (cg__dist_active(d)) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm);
#else
    (void)d, (void)v, (void)n;
#endif
    return CG_OK;
}

/* MPI counts are ints: larger buffers go in pieces. */
#define MAX_PIECE (INT_MAX / 2)

cg_status cg__dist_sum_grads(cg_dist *d, float *g, int64_t n)
{
    if (!cg__dist_active(d)) return CG_OK;
    double t0 = cg__now();
#ifdef CG_HAVE_MPI
    for (int64_t at = 0; at < n; at += MAX_PIECE) {
        int count = (int)(n - at < MAX_PIECE ? n - at : MAX_PIECE);
        MPI_Allreduce(MPI_IN_PLACE, g + at, count, MPI_FLOAT, MPI_SUM, d->comm);
    }
#else
    (void)g, (void)n;
#endif
    d->comm_seconds += cg__now() - t0;
    return CG_OK;
}

cg_status cg__dist_broadcast(cg_dist *d, void *p, size_t bytes)
{
#ifdef CG_HAVE_MPI
    if (!cg__dist_active(d)) return CG_OK;
    char *at = p;
    for (size_t done = 0; done < bytes; done += MAX_PIECE) {
        int count = (int)(bytes - done < MAX_PIECE ? bytes - done : MAX_PIECE);
        MPI_Bcast(at + done, count, MPI_BYTE, 0, d->comm);
    }
#else
    (void)d, (void)p, (void)bytes;
#endif
    return CG_OK;
}

cg_status cg__dist_broadcast_buffers(cg_dist *d, cg_model *model)
{
    if (!cg__dist_active(d)) return CG_OK;
    for (size_t i = 0; i < cg_model_buffer_count(model); i++) {
        cg_buffer *b = cg_model_buffer_at(model, i);
        size_t elem = b->dtype == CG_DTYPE_I64 ? sizeof(int64_t) : sizeof(float);
        cg__dist_broadcast(d, b->data, (size_t)b->size * elem);
    }
    return CG_OK;
}

cg_status cg_dist_broadcast_model(cg_dist *d, cg_model *model)
{
    if (!model) return cg_set_error(CG_ERR_ARG, "cg_dist_broadcast_model: model is NULL");
    if (!cg__dist_active(d)) return CG_OK;
    cg_params *p = cg_model_params(model);
    cg__dist_broadcast(d, cg_params_data(p), (size_t)cg_params_numel(p) * sizeof(float));
    return cg__dist_broadcast_buffers(d, model);
}

bool cg__dist_all_equal(cg_dist *d, uint64_t value)
{
    if (!cg__dist_active(d)) return true;
#ifdef CG_HAVE_MPI
    uint64_t lo = value, hi = value;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, d->comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, d->comm);
    return lo == hi;
#else
    return true;
#endif
}

/* ------------------------------------------------------------ training steps */

/* A stream seeded from two draws of rng and salt: rank r's stream uses
 * salt r + 1, the next step's common stream salt 0. */
static cg_rng derived_rng(const cg_rng *rng, uint64_t salt)
{
    cg_rng copy = *rng, out;
    uint64_t x = ((uint64_t)cg_rng_u32(&copy) << 32) | cg_rng_u32(&copy);
    cg_rng_seed(&out, x ^ (salt * 0x9E3779B97F4A7C15ULL));
    return out;
}

cg_rng cg__dist_next_rng(const cg_rng *rng) { return derived_rng(rng, 0); }

void cg__dist_step_begin(const cg_dist *d, cg_train_state *st)
{
    st->loss_sum = 0.0;
    st->correct = 0;
    st->seen = 0;
    st->sums = (cg_metric_sums){0};
    st->rng = derived_rng(&st->rng, (uint64_t)cg_dist_rank(d) + 1);
}

/* Sums of (y - shift) moved to another origin, so that sums taken from
 * different first targets can be added. */
static void reshift(cg_metric_sums *m, double to)
{
    double delta = m->shift - to, k = (double)m->values;
    m->y_sq_sum += 2.0 * delta * m->y_sum + k * delta * delta;
    m->y_sum += k * delta;
    m->shift = to;
}

enum { S_LOSS, S_CORRECT, S_SEEN, S_ABS, S_SQ, S_Y, S_Y_SQ, S_VALUES, S_TOP_K, S_STOP, S_COUNT };

/* Counts travel as doubles: exact below 2^53. */
static void add_sums(cg_train_state *st, const cg_train_state *saved, const double *v)
{
    st->loss_sum = saved->loss_sum + v[S_LOSS];
    st->correct = saved->correct + (int64_t)v[S_CORRECT];
    st->seen = saved->seen + (int64_t)v[S_SEEN];
    cg_metric_sums *m = &st->sums;
    const cg_metric_sums *was = &saved->sums;
    m->abs_sum = was->abs_sum + v[S_ABS];
    m->sq_sum = was->sq_sum + v[S_SQ];
    m->y_sum = was->y_sum + v[S_Y];
    m->y_sq_sum = was->y_sq_sum + v[S_Y_SQ];
    m->values = was->values + (int64_t)v[S_VALUES];
    m->top_k_correct = was->top_k_correct + (int64_t)v[S_TOP_K];
}

cg_status cg__dist_step_combine(cg_dist *d, cg_train_state *st, const cg_train_state *saved,
                                double shift, bool stop, bool *stop_any, cg_params *p, int64_t n)
{
    double origin = saved->sums.values > 0 ? saved->sums.shift : shift;
    reshift(&st->sums, origin);
    int64_t count = st->seen;
    const cg_metric_sums *m = &st->sums;
    double v[S_COUNT] = {st->loss_sum, (double)st->correct, (double)st->seen, m->abs_sum,
                         m->sq_sum, m->y_sum, m->y_sq_sum, (double)m->values,
                         (double)m->top_k_correct, stop ? 1.0 : 0.0};
    cg__dist_sum(d, v, S_COUNT);
    add_sums(st, saved, v);
    st->sums.shift = origin;
    *stop_any = v[S_STOP] > 0.0;
    /* Each rank holds the mean gradient over its `count` samples; weighted
     * by count / n they add up to the mean over the whole batch. */
    float *g = cg_params_grad(p), w = (float)count / (float)n;
    int64_t numel = cg_params_numel(p);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < numel; i++) g[i] *= w;
    return cg__dist_sum_grads(d, g, numel);
}

/* FNV-1a over the bytes: equal weights give equal hashes on every rank. */
static uint64_t hash_floats(const float *v, int64_t n)
{
    const unsigned char *p = (const unsigned char *)v;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < (size_t)n * sizeof *v; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

cg_status cg__dist_check_replicas(cg_dist *d, cg_model *model, int64_t epoch)
{
    if (!cg__dist_active(d)) return CG_OK;
    cg_params *p = cg_model_params(model);
    if (cg__dist_all_equal(d, hash_floats(cg_params_data(p), cg_params_numel(p)))) return CG_OK;
    return cg_set_error(CG_ERR_STATE, "after epoch %lld the ranks' weights differ (they must "
                                      "stay identical; is every rank on the same data and "
                                      "cgrad build?)",
                        (long long)epoch + 1);
}

int cg_dist_first_failure(cg_dist *d, int code, int *rank)
{
    if (rank) *rank = 0;
    if (!cg__dist_active(d)) return code;
#ifdef CG_HAVE_MPI
    int mine = code != 0 ? d->rank : d->size, first = d->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (first == d->size) return 0;
    MPI_Bcast(&code, 1, MPI_INT, first, d->comm);
    if (rank) *rank = first;
#endif
    return code;
}

/* ------------------------------------------------------------ gathering outputs */

enum { TAG_STATUS = 17, TAG_VALUES = 18 };

cg_status cg__dist_send_to_root(cg_dist *d, cg_status status, const float *v, int64_t n)
{
#ifdef CG_HAVE_MPI
    if (n > INT_MAX) return cg_set_error(CG_ERR_ARG, "a batch of outputs is too large to send");
    int code = (int)status;
    MPI_Send(&code, 1, MPI_INT, 0, TAG_STATUS, d->comm);
    if (status == CG_OK) MPI_Send(v, (int)n, MPI_FLOAT, 0, TAG_VALUES, d->comm);
#else
    (void)d, (void)v, (void)n;
#endif
    return status;
}

cg_status cg__dist_recv_from(cg_dist *d, int rank, float *v, int64_t n)
{
    int code = CG_OK;
#ifdef CG_HAVE_MPI
    MPI_Recv(&code, 1, MPI_INT, rank, TAG_STATUS, d->comm, MPI_STATUS_IGNORE);
    if (code == CG_OK) MPI_Recv(v, (int)n, MPI_FLOAT, rank, TAG_VALUES, d->comm, MPI_STATUS_IGNORE);
#else
    (void)d, (void)rank, (void)v, (void)n;
#endif
    return (cg_status)code;
}
