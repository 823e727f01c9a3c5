/* The shared half of the rnn, lstm and gru layer types (see recurrent.h):
 * torch.nn.RNN/LSTM/GRU with batch_first=True. A layer of num_layers
 * stacked cells, each in one or both directions (the two outputs
 * concatenated, forward first), runs one cg_recurrent op per cell and
 * direction (ops/recurrent.c). */
#include "recurrent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cg__recurrent_keys[] = {"units", "num_layers", "bidirectional", "dropout",
                                          "return_sequences", "bias", "nonlinearity",
                                          "stateful", NULL};

static const char *type_name(cg_rnn_cell cell)
{
    return cell == CG_CELL_LSTM ? "lstm" : cell == CG_CELL_GRU ? "gru" : "rnn";
}

static int gates(cg_rnn_cell cell)
{
    return cell == CG_CELL_LSTM ? 4 : cell == CG_CELL_GRU ? 3 : 1;
}

static int directions(const cg_recurrent_config *c) { return c->bidirectional ? 2 : 1; }

/* rnn's "nonlinearity": "tanh" (default) or "relu", as torch.nn.RNN. */
static cg_status read_nonlinearity(const cJSON *obj, cg_json_path *p, cg_recurrent_config *c)
{
    const char *name = NULL;
    cg_status s = cg__json_read_string(obj, "nonlinearity", p, &name);
    if (s != CG_OK || !name) return s;
    size_t mark = cg__json_key(p, "nonlinearity");
    if (c->cell != CG_CELL_RNN_TANH)
        s = cg__json_fail(p, "only rnn layers have a nonlinearity; %s has its own gates",
                          type_name(c->cell));
    else if (strcmp(name, "relu") == 0)
        c->cell = CG_CELL_RNN_RELU;
    else if (strcmp(name, "tanh") != 0)
        s = cg__json_fail(p, "expected \"tanh\" or \"relu\", got \"%s\"", name);
    cg__json_restore(p, mark);
    return s;
}

cg_status cg__recurrent_parse(const cJSON *obj, cg_json_path *p, cg_rnn_cell cell,
                              cg_layer_spec *l)
{
    cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    *c = (cg_recurrent_config){.cell = cell, .num_layers = 1, .bias = true,
                               .return_sequences = true};
    if (!cJSON_GetObjectItemCaseSensitive(obj, "units"))
        return cg__json_fail(p, "%s layer needs \"units\"", type_name(cell));
    cg_status s = cg__json_read_int(obj, "units", p, 1, INT32_MAX, &c->units);
    if (s == CG_OK)
        s = cg__json_read_int(obj, "num_layers", p, 1, CG_RECURRENT_MAX_LAYERS, &c->num_layers);
    if (s == CG_OK) s = cg__json_read_bool(obj, "bidirectional", p, &c->bidirectional);
    if (s == CG_OK) s = cg__json_read_bool(obj, "bias", p, &c->bias);
    if (s == CG_OK) s = cg__json_read_bool(obj, "return_sequences", p, &c->return_sequences);
    if (s == CG_OK)
        s = cg__json_read_float(obj, "dropout", p, CG_RANGE_UNIT_OPEN_TOP, &c->dropout);
    if (s == CG_OK) s = read_nonlinearity(obj, p, c);
    if (s == CG_OK) s = cg__json_read_bool(obj, "stateful", p, &c->stateful);
    /* The reverse direction reads each chunk from its end: no state of the
     * chunk before could continue it. */
    if (s == CG_OK && c->stateful && c->bidirectional) {
        size_t mark = cg__json_key(p, "stateful");
        s = cg__json_fail(p, "a stateful layer cannot be bidirectional: the reverse direction "
                             "would continue from the wrong end of the previous chunk");
        cg__json_restore(p, mark);
    }
    return s;
}

/* Values of one cell and direction reading `in` features. */
static bool cell_params(const cg_recurrent_config *c, int64_t in, int64_t *out)
{
    int64_t gh, w_ih, w_hh, total;
    return cg__checked_mul(gates(c->cell), c->units, &gh) && cg__checked_mul(gh, in, &w_ih) &&
           cg__checked_mul(gh, c->units, &w_hh) && cg__checked_add(w_ih, w_hh, &total) &&
           cg__checked_add(total, c->bias ? 2 * gh : 0, out);
}

cg_status cg__recurrent_infer(cg_layer_spec *l, cg_json_path *p)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    char shape[128];
    if (l->in_ndim[0] != 2)
        return cg__json_fail(p, "%s needs a [time, features] input per sample, got %s; an "
                                "\"input\" of [T, F] or an embedding of [T] token ids gives one",
                             type_name(c->cell), cg__layer_in_str(l, 0, shape, sizeof shape));
    const int64_t T = l->in_shape[0][0], out = directions(c) * c->units;
    int64_t total = 0;
    for (int64_t k = 0; k < c->num_layers; k++) {
        int64_t one;
        if (!cell_params(c, k == 0 ? l->in_shape[0][1] : out, &one) ||
            !cg__checked_mul(one, directions(c), &one) || !cg__checked_add(total, one, &total))
            return cg__json_fail(p, "the parameter count overflows");
    }
    l->n_params = total;
    /* The activation memory estimate (scratch_floats) must not overflow. */
    int64_t per_cell, all;
    if (!cg__checked_mul(T, gates(c->cell) + 2, &per_cell) ||
        !cg__checked_mul(per_cell, c->units, &per_cell) ||
        !cg__checked_mul(per_cell, 2 * directions(c) * c->num_layers, &all))
        return cg__json_fail(p, "the activation memory of %lld steps of %lld units overflows",
                             (long long)T, (long long)c->units);
    l->out_ndim = c->return_sequences ? 2 : 1;
    l->out_shape[0] = c->return_sequences ? T : out;
    l->out_shape[1] = out;
    return CG_OK;
}

void cg__recurrent_write(cg_json_writer *w, cJSON *obj, const cg_layer_spec *l)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    cg__jw_string(w, obj, "type", type_name(c->cell));
    cg__jw_int(w, obj, "units", c->units);
    if (c->cell == CG_CELL_RNN_TANH || c->cell == CG_CELL_RNN_RELU)
        cg__jw_string(w, obj, "nonlinearity", c->cell == CG_CELL_RNN_RELU ? "relu" : "tanh");
    cg__jw_int(w, obj, "num_layers", c->num_layers);
    cg__jw_bool(w, obj, "bidirectional", c->bidirectional);
    cg__jw_float(w, obj, "dropout", c->dropout);
    cg__jw_bool(w, obj, "return_sequences", c->return_sequences);
    cg__jw_bool(w, obj, "bias", c->bias);
    if (c->stateful) cg__jw_bool(w, obj, "stateful", true);
}

void cg__recurrent_describe(const cg_layer_spec *l, char *buf, size_t size)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    char layers[32] = "", drop[32] = "";
    if (c->num_layers > 1) snprintf(layers, sizeof layers, " x%lld", (long long)c->num_layers);
    if (c->dropout > 0) snprintf(drop, sizeof drop, " dropout %g", (double)c->dropout);
    snprintf(buf, size, "%s %lld%s%s%s%s%s%s%s", type_name(c->cell), (long long)c->units,
             c->cell == CG_CELL_RNN_RELU ? " relu" : "", layers,
             c->bidirectional ? " bidirectional" : "", drop, c->stateful ? " stateful" : "",
             c->return_sequences ? "" : " (last step)", c->bias ? "" : " (no bias)");
}

/* Per sample and cell: the gates and the cell state or GRU's hidden
 * projection kept for backward, and the output (concatenated and dropped
 * out between layers). */
int64_t cg__recurrent_scratch_floats(const cg_layer_spec *l)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    int64_t T = l->in_shape[0][0], per_cell = T * (gates(c->cell) + 2) * c->units;
    return c->num_layers * directions(c) * per_cell * 2;
}

static cg_tensor *add_param(cg_layer_build *b, const char *what, int64_t k, int dir, int ndim,
                            const int64_t *shape, float bound)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s_l%lld%s", b->prefix, what, (long long)k,
             dir ? "_reverse" : "");
    cg_tensor *t = cg_params_add(b->params, name, ndim, shape);
    if (t) cg_init_uniform(t, -bound, bound, b->rng);
    return t;
}

cg_status cg__recurrent_build(cg_layer_build *b, const cg_layer_spec *l, void *state)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    cg_recurrent_state *st = state;
    const int64_t H = c->units, GH = gates(c->cell) * H;
    const float bound = 1.0f / sqrtf((float)H);
    for (int64_t k = 0; k < c->num_layers; k++) {
        int64_t in = k == 0 ? l->in_shape[0][1] : directions(c) * H;
        for (int d = 0; d < directions(c); d++) {
            cg_tensor **w = st->w[k][d];
            w[0] = add_param(b, "weight_ih", k, d, 2, (int64_t[]){GH, in}, bound);
            w[1] = w[0] ? add_param(b, "weight_hh", k, d, 2, (int64_t[]){GH, H}, bound) : NULL;
            if (!w[1]) return cg_last_status();
            if (!c->bias) continue;
            w[2] = add_param(b, "bias_ih", k, d, 1, &GH, bound);
            w[3] = w[2] ? add_param(b, "bias_hh", k, d, 1, &GH, bound) : NULL;
            if (!w[3]) return cg_last_status();
        }
    }
    if (c->stateful && !(st->carry = calloc(1, sizeof *st->carry)))
        return cg_set_error(CG_ERR_NOMEM, "%s: out of memory", b->prefix);
    return CG_OK;
}

/* ------------------------------------------------------------ stateful layers */

bool cg__recurrent_is_stateful(const cg_layer_spec *l)
{
    return CG_LAYER_CONFIG(l, cg_recurrent_config)->stateful;
}

void cg__recurrent_reset(void *state)
{
    cg_recurrent_state *st = state;
    if (st->carry) st->carry->live = false;
}

void cg__recurrent_release(void *state)
{
    cg_recurrent_state *st = state;
    if (!st->carry) return;
    free(st->carry->values);
    free(st->carry);
    st->carry = NULL;
}

/* Room for n rows: a batch with more rows than the carried state starts
 * afresh; one with fewer (the ended streams of an epoch's last batches are
 * the last rows) continues the first n. */
static cg_status carry_fit(cg_recurrent_carry *cr, const cg_recurrent_config *c, int64_t n)
{
    if (n <= cr->rows) return CG_OK;
    size_t floats = (size_t)(c->num_layers * 2 * n * c->units);
    float *v = realloc(cr->values, floats * sizeof *v);
    if (!v) return cg_set_error(CG_ERR_NOMEM, "stateful %s: out of memory for %lld rows",
                                type_name(c->cell), (long long)n);
    cr->values = v;
    cr->rows = n;
    cr->live = false;
    return CG_OK;
}

/* Layer k's carried h and c, continued (when live) and overwritten. */
static cg_rnn_carry carry_at(const cg_recurrent_carry *cr, const cg_recurrent_config *c, int64_t k)
{
    float *h = cr->values + (size_t)(k * 2 * cr->rows * c->units), *cs = h + cr->rows * c->units;
    return (cg_rnn_carry){.h0 = cr->live ? h : NULL, .c0 = cr->live ? cs : NULL, .h_n = h,
                          .c_n = cs};
}

static cg_tensor *one_layer(cg_ctx *ctx, const cg_recurrent_config *c,
                            const cg_recurrent_state *st, int64_t k, cg_tensor *x)
{
    cg_tensor *out[2];
    cg_rnn_carry carry;
    if (st->carry) carry = carry_at(st->carry, c, k);
    for (int d = 0; d < directions(c); d++) {
        cg_tensor *const *w = st->w[k][d];
        out[d] = cg_recurrent(ctx, c->cell, x, w[0], w[1], w[2], w[3], d == 1,
                              st->carry ? &carry : NULL);
        if (!out[d]) return NULL;
    }
    return c->bidirectional ? cg_concat(ctx, out, 2, 2) : out[0];
}

cg_tensor *cg__recurrent_forward(cg_ctx *ctx, const cg_layer_spec *l, const void *state,
                                 cg_tensor *const *x, int n)
{
    const cg_recurrent_config *c = CG_LAYER_CONFIG(l, cg_recurrent_config);
    const cg_recurrent_state *st = state;
    cg_tensor *h = x[0];
    if (h && st->carry && carry_fit(st->carry, c, h->shape[0]) != CG_OK) return NULL;
    for (int64_t k = 0; h && k < c->num_layers; k++) {
        h = one_layer(ctx, c, state, k, h);
        if (h && k + 1 < c->num_layers && c->dropout > 0) h = cg_dropout(ctx, h, c->dropout);
    }
    /* The state after this batch is what the next one continues. */
    if (h && st->carry) st->carry->live = true;
    if (!h || c->return_sequences) return h;
    /* The output after the last time step, as out[:, -1] in PyTorch: for
     * the reverse direction that is its first step. */
    int64_t N = h->shape[0], T = h->shape[1], width = h->shape[2];
    h = cg_slice(ctx, h, 1, T - 1, T);
    return h ? cg_reshape(ctx, h, 2, (int64_t[]){N, width}) : NULL;
}
