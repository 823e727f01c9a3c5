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

/* A bucket: the gradients of parameters [first, last), values [begin, end)
 * of the flat buffer, averaged by one allreduce (in pieces of MAX_PIECE)
 * once all of them are final. */
typedef struct bucket {
    int64_t begin, end;
    size_t first, last;
    size_t waiting;         /* parameters not final yet in this step */
    bool ready;
    size_t request;         /* its first entry in cg_dist.requests */
} bucket;

/* The buckets of one parameter set (see cg__dist_attach). */
typedef struct bucket_plan {
    cg_params *params;      /* planned for (by cg__dist_attach); NULL: no plan */
    bucket *buckets;
    size_t n;
    size_t *bucket_of;      /* per parameter */
    bool *final;            /* per parameter: final in this step */
    size_t next;            /* buckets [next, n) are launched */
    float weight;           /* this rank's share of the step's batch */
    size_t first_bad;       /* lowest parameter with a non-finite local gradient */
#ifdef CG_HAVE_MPI
    MPI_Request *requests;
    int n_requests;
#endif
} bucket_plan;

struct cg_dist {
    int rank;
    int size;
    bool joined;            /* we called MPI_Init, so we finalize */
    bool has_comm;          /* comm is ours to free */
    double comm_seconds;    /* averaging gradients (launching, polling, waiting) */
    size_t bucket_bytes;    /* 0: one allreduce after the backward pass */
    bucket_plan plan;
#ifdef CG_HAVE_MPI
    MPI_Comm comm;          /* our own duplicate of MPI_COMM_WORLD */
#endif
};

/* Gradient buckets of about 1 MiB: small enough for the last layers' to be
 * on their way while the first layers' backward runs, large enough that
 * the per-message cost stays small (docs/distributed.md has the figures). */
#define DEFAULT_BUCKET_BYTES ((size_t)1 << 20)

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
    d->bucket_bytes = DEFAULT_BUCKET_BYTES;
#ifdef CG_HAVE_MPI
    if (launched > 0 && join(d, argc, argv) != CG_OK) {
        free(d);
        return cg_last_status();
    }
#endif
    *out = d;
    return CG_OK;
}

static void plan_release(bucket_plan *p)
{
    free(p->buckets);
    free(p->bucket_of);
    free(p->final);
#ifdef CG_HAVE_MPI
    free(p->requests);
#endif
    *p = (bucket_plan){0};
}

void cg_dist_finalize(cg_dist *d)
{
    if (!d) return;
    plan_release(&d->plan);
#ifdef CG_HAVE_MPI
    /* A program that initialised MPI itself also finalizes it. */
    if (d->has_comm) MPI_Comm_free(&d->comm);
    if (d->joined) MPI_Finalize();
#endif
    free(d);
}

void cg_dist_set_bucket_bytes(cg_dist *d, size_t bytes)
{
    if (!d) return;
    d->bucket_bytes = bytes; /* the next run plans with it */
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

void cg__dist_rng_from_last(cg_dist *d, cg_rng *rng)
{
#ifdef CG_HAVE_MPI
    if (cg__dist_active(d)) MPI_Bcast(rng, (int)sizeof *rng, MPI_BYTE, d->size - 1, d->comm);
#else
    (void)d, (void)rng;
#endif
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

/* ------------------------------------------------------------ gradient buckets
 *
 * The parameters lie in the flat buffer in layer order, and backward
 * finishes them roughly from the last layer to the first, so buckets are
 * cut from the end: bucket n−1 holds the last parameters and is usually
 * final first. Whole parameters only; a parameter larger than a bucket is
 * a bucket of its own. MPI wants every rank to start the same collectives
 * in the same order, so buckets are launched strictly from n−1 down to 0:
 * one that is final before the bucket after it waits for that one. A rank
 * whose step failed (or whose share is empty) launches what is left in the
 * same order when the step ends, so the others never wait in vain. */

static size_t pieces(int64_t n) { return (size_t)((n + MAX_PIECE - 1) / MAX_PIECE); }

static cg_status plan_buckets(cg_dist *d, cg_params *params)
{
    bucket_plan *p = &d->plan;
    size_t count = cg_params_count(params);
    int64_t cap = (int64_t)(d->bucket_bytes / sizeof(float));
    p->buckets = calloc(count ? count : 1, sizeof *p->buckets);
    p->bucket_of = calloc(count ? count : 1, sizeof *p->bucket_of);
    p->final = calloc(count ? count : 1, sizeof *p->final);
    if (!p->buckets || !p->bucket_of || !p->final) return CG_ERR_NOMEM;
    /* Cut from the end into a temporary order, then number from the front. */
    size_t n = 0, last = count;
    int64_t end = cg_params_numel(params), size = 0;
    for (size_t i = count; i-- > 0;) {
        size += cg_params_at(params, i)->size;
        if (i > 0 && (cap == 0 || size < cap)) continue;
        p->buckets[n++] = (bucket){.begin = end - size, .end = end, .first = i, .last = last};
        end -= size, size = 0, last = i;
    }
    for (size_t k = 0; k < n / 2; k++) {
        bucket t = p->buckets[k];
        p->buckets[k] = p->buckets[n - 1 - k];
        p->buckets[n - 1 - k] = t;
    }
    p->n = n;
    size_t requests = 0;
    for (size_t k = 0; k < n; k++) {
        bucket *b = &p->buckets[k];
        for (size_t i = b->first; i < b->last; i++) p->bucket_of[i] = k;
        b->request = requests;
        requests += pieces(b->end - b->begin);
    }
#ifdef CG_HAVE_MPI
    p->requests = malloc((requests ? requests : 1) * sizeof *p->requests);
    if (!p->requests) return CG_ERR_NOMEM;
    for (size_t k = 0; k < requests; k++) p->requests[k] = MPI_REQUEST_NULL;
    p->n_requests = (int)requests;
#endif
    p->params = params;
    return CG_OK;
}

/* The parameter whose gradient is at g, or count when none is. */
static size_t param_index(const cg_params *params, const float *g)
{
    uintptr_t at = (uintptr_t)g, lo = (uintptr_t)cg_params_grad((cg_params *)params);
    uintptr_t hi = lo + (uintptr_t)cg_params_numel(params) * sizeof(float);
    size_t count = cg_params_count(params);
    if (!g || at < lo || at >= hi) return count;
    int64_t offset = (int64_t)((at - lo) / sizeof(float));
    size_t a = 0, b = count; /* the last parameter starting at or before offset */
    while (b - a > 1) {
        size_t m = a + (b - a) / 2;
        int64_t begin = cg_params_at(params, m)->grad - cg_params_grad((cg_params *)params);
        if (begin <= offset) a = m;
        else b = m;
    }
    return cg_params_at(params, a)->grad == g ? a : count;
}

/* Gradients never written are zero; then the local finiteness check (the
 * average would spread a NaN to every rank and hide whose it was) and this
 * rank's weight, as the single allreduce did for the whole buffer. */
static void prepare(bucket_plan *p, const bucket *b)
{
    for (size_t i = b->first; i < b->last; i++) {
        cg_tensor *t = cg_params_at(p->params, i);
        if (!t->grad_written) {
            memset(t->grad, 0, (size_t)t->size * sizeof(float));
            t->grad_written = true;
        }
        if (i < p->first_bad && !cg__all_finite(t->grad, t->size)) p->first_bad = i;
    }
    float *g = cg_params_grad(p->params), w = p->weight;
#pragma omp parallel for simd schedule(static) if (b->end - b->begin > 32768)
    for (int64_t i = b->begin; i < b->end; i++) g[i] *= w;
}

static void launch(cg_dist *d, const bucket *b)
{
    prepare(&d->plan, b);
#ifdef CG_HAVE_MPI
    float *g = cg_params_grad(d->plan.params);
    MPI_Request *req = d->plan.requests + b->request;
    for (int64_t at = b->begin; at < b->end; at += MAX_PIECE, req++) {
        int count = (int)(b->end - at < MAX_PIECE ? b->end - at : MAX_PIECE);
        MPI_Iallreduce(MPI_IN_PLACE, g + at, count, MPI_FLOAT, MPI_SUM, d->comm, req);
    }
#endif
}

/* Launches the ready buckets that are next in line. */
static void launch_ready(cg_dist *d)
{
    bucket_plan *p = &d->plan;
    while (p->next > 0 && p->buckets[p->next - 1].ready) launch(d, &p->buckets[--p->next]);
}

/* Lets the launched allreduces advance: MPI moves a nonblocking
 * collective along only inside MPI calls, and this thread is busy with the
 * backward pass between them, so it looks in after every node. */
static void poll(cg_dist *d)
{
#ifdef CG_HAVE_MPI
    bucket_plan *p = &d->plan;
    if (p->next == p->n) return;
    int first = (int)p->buckets[p->next].request, done = 0;
    MPI_Testall(p->n_requests - first, p->requests + first, &done, MPI_STATUSES_IGNORE);
#else
    (void)d;
#endif
}

/* ctx->share.progress: after every node of the backward pass. */
static void progress(void *user)
{
    cg_dist *d = user;
    if (d->plan.next == d->plan.n) return; /* nothing on its way yet */
    double t0 = cg__clock();
    poll(d);
    d->comm_seconds += cg__clock() - t0;
}

/* ctx->share.grad_ready: a leaf's gradient is final. */
static void grad_ready(void *user, cg_tensor *leaf)
{
    cg_dist *d = user;
    bucket_plan *p = &d->plan;
    size_t i = param_index(p->params, leaf->grad);
    if (i == cg_params_count(p->params) || p->final[i]) return;
    double t0 = cg__clock();
    p->final[i] = true;
    bucket *b = &p->buckets[p->bucket_of[i]];
    if (--b->waiting == 0) b->ready = true;
    launch_ready(d);
    d->comm_seconds += cg__clock() - t0;
}

/* ctx->share.sum: synchronised batch norm's statistics. */
static void sum_shares(void *user, double *v, int64_t n)
{
    cg_dist *d = user;
#ifdef CG_HAVE_MPI
    for (int64_t at = 0; at < n; at += MAX_PIECE) {
        int count = (int)(n - at < MAX_PIECE ? n - at : MAX_PIECE);
        MPI_Allreduce(MPI_IN_PLACE, v + at, count, MPI_DOUBLE, MPI_SUM, d->comm);
    }
#else
    (void)d, (void)v, (void)n;
#endif
}

cg_status cg__dist_attach(cg_dist *d, cg_ctx *ctx, cg_params *params)
{
    if (!cg__dist_active(d)) return CG_OK;
    /* Planned afresh for every run: cheap, and a parameter set freed and
     * another allocated at the same address must not inherit the plan. */
    plan_release(&d->plan);
    if (plan_buckets(d, params) != CG_OK) {
        plan_release(&d->plan);
        return cg_set_error(CG_ERR_NOMEM, "training: no memory for the gradient buckets");
    }
    ctx->share = (cg_ctx_share){.sum = sum_shares, .grad_ready = grad_ready,
                                .progress = progress, .user = d};
    return CG_OK;
}

/* ------------------------------------------------------------ training steps */

void cg__dist_step_begin(cg_dist *d, cg_train_state *st, cg_ctx *ctx, int64_t first_row,
                         int64_t rows, int64_t total_rows)
{
    st->loss_sum = 0.0;
    st->correct = 0;
    st->seen = 0;
    st->sums = (cg_metric_sums){0};
    ctx->share.first_row = first_row;
    ctx->share.rows = rows;
    ctx->share.total_rows = total_rows;
    bucket_plan *p = &d->plan;
    for (size_t k = 0; k < p->n; k++) {
        p->buckets[k].waiting = p->buckets[k].last - p->buckets[k].first;
        p->buckets[k].ready = false;
    }
    memset(p->final, 0, cg_params_count(p->params) * sizeof *p->final);
    p->next = p->n;
    p->first_bad = cg_params_count(p->params);
    /* Each rank's gradient is the mean over its rows; weighted by its share
     * of the batch they add up to the mean over the whole batch. */
    p->weight = (float)rows / (float)total_rows;
}

const cg_tensor *cg__dist_grads_finish(cg_dist *d)
{
    bucket_plan *p = &d->plan;
    double t0 = cg__clock();
    for (size_t k = 0; k < p->next; k++) p->buckets[k].ready = true;
    launch_ready(d);
#ifdef CG_HAVE_MPI
    MPI_Waitall(p->n_requests, p->requests, MPI_STATUSES_IGNORE);
#endif
    d->comm_seconds += cg__clock() - t0;
    return p->first_bad < cg_params_count(p->params) ? cg_params_at(p->params, p->first_bad)
                                                     : NULL;
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
                                double shift, bool stop, bool *stop_any)
{
    double origin = saved->sums.values > 0 ? saved->sums.shift : shift;
    reshift(&st->sums, origin);
    const cg_metric_sums *m = &st->sums;
    double v[S_COUNT] = {st->loss_sum, (double)st->correct, (double)st->seen, m->abs_sum,
                         m->sq_sum, m->y_sum, m->y_sq_sum, (double)m->values,
                         (double)m->top_k_correct, stop ? 1.0 : 0.0};
    cg__dist_sum(d, v, S_COUNT);
    add_sums(st, saved, v);
    st->sums.shift = origin;
    *stop_any = v[S_STOP] > 0.0;
    return CG_OK;
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
