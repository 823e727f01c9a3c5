/* Standalone activation ops over the shared pointwise kernels
 * (activation_kernels.c), and the activation names used by model files. */
#include "activation_kernels.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define ACT_CHUNK 16384

static const char *const act_names[] = {
    [CG_ACT_NONE] = "none",
    [CG_ACT_RELU] = "relu",
    [CG_ACT_SIGMOID] = "sigmoid",
    [CG_ACT_TANH] = "tanh",
    [CG_ACT_LEAKY_RELU] = "leaky_relu",
    [CG_ACT_ELU] = "elu",
    [CG_ACT_GELU] = "gelu",
    [CG_ACT_SOFTPLUS] = "softplus",
};

#define N_ACTS (sizeof act_names / sizeof act_names[0])

bool cg_activation_from_name(const char *name, cg_activation *out)
{
    if (!name || !out) {
        cg_set_error(CG_ERR_ARG, "cg_activation_from_name: NULL argument");
        return false;
    }
    if (strcasecmp(name, "linear") == 0 || strcasecmp(name, "identity") == 0) {
        *out = CG_ACT_NONE;
        return true;
    }
    for (size_t i = 0; i < N_ACTS; i++) {
        if (strcasecmp(name, act_names[i]) == 0) {
            *out = (cg_activation)i;
            return true;
        }
    }
    cg_set_error(CG_ERR_ARG, "unknown activation \"%s\"", name);
    return false;
}

const char *cg_activation_name(cg_activation act)
{
    return (unsigned)act < N_ACTS ? act_names[act] : "unknown";
}

/* ------------------------------------------------ parameterless activations */

/* The kernel splits its work by rows; a tensor of any shape is cut here into
 * fixed chunks instead, so a long vector is split across threads too. */
static void act_forward(cg_activation act, const float *x, float *y, int64_t n)
{
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i += ACT_CHUNK)
        cg__act_forward(act, x + i, NULL, y + i, 1, n - i < ACT_CHUNK ? n - i : ACT_CHUNK);
}

/* dx = dy·act'(x), the derivative taken from y, or from x for GELU */
static void act_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx)
        cg__act_backward((cg_activation)node->iarg[0], x->data, y->data, y->grad, dx, x->size,
                         acc);
}

const cg_op_def cg_op_sigmoid = {"sigmoid", act_backward};
const cg_op_def cg_op_tanh = {"tanh", act_backward};
const cg_op_def cg_op_relu = {"relu", act_backward};
const cg_op_def cg_op_gelu = {"gelu", act_backward};
const cg_op_def cg_op_softplus = {"softplus", act_backward};

static cg_tensor *activation(cg_ctx *ctx, const cg_op_def *op, cg_activation act, cg_tensor *x)
{
    if (cg__null_input(op->name, &x, 1)) return NULL;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    act_forward(act, x->data, y->data, x->size);
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, op, y, &x, 1);
        if (!node) return NULL;
        node->iarg[0] = act;
    }
    return y;
}

cg_tensor *cg_sigmoid(cg_ctx *ctx, cg_tensor *x)
{
    return activation(ctx, &cg_op_sigmoid, CG_ACT_SIGMOID, x);
}

cg_tensor *cg_tanh(cg_ctx *ctx, cg_tensor *x) { return activation(ctx, &cg_op_tanh, CG_ACT_TANH, x); }
cg_tensor *cg_relu(cg_ctx *ctx, cg_tensor *x) { return activation(ctx, &cg_op_relu, CG_ACT_RELU, x); }
cg_tensor *cg_gelu(cg_ctx *ctx, cg_tensor *x) { return activation(ctx, &cg_op_gelu, CG_ACT_GELU, x); }

cg_tensor *cg_softplus(cg_ctx *ctx, cg_tensor *x)
{
    return activation(ctx, &cg_op_softplus, CG_ACT_SOFTPLUS, x);
}

/* ------------------------------------------------ parameterised activations */

/* dx = dy for x > 0, slope·dy otherwise. The kernel picks the branch by the
 * sign of what it is given; it is given the input, because with a negative
 * slope the output is positive where the input is not. */
static void leaky_relu_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (dx) cg__leaky_relu_backward(x->data, y->grad, dx, x->size, node->farg[0], acc);
}

const cg_op_def cg_op_leaky_relu = {"leaky_relu", leaky_relu_backward};

/* elu'(x) = 1 for x > 0, else alpha·eˣ. The kernel reads it from y (= y + alpha),
 * which tells the branches apart only for alpha >= 0; a negative alpha makes
 * y positive for negative x, so then the derivative is taken from x. */
static void elu_backward(cg_ctx *ctx, cg_node *node)
{
    cg_tensor *x = node->inputs[0], *y = node->out;
    bool acc;
    float *dx = cg__grad_dest(ctx, x, &acc);
    if (!dx) return;
    float alpha = node->farg[0];
    if (alpha >= 0.0f) {
        cg__elu_backward(y->data, y->grad, dx, x->size, alpha, acc);
        return;
    }
    const float *xd = x->data, *dy = y->grad;
    int64_t n = x->size;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float g = xd[i] > 0.0f ? dy[i] : dy[i] * alpha * expf(xd[i]);
        dx[i] = acc ? dx[i] + g : g;
    }
}

const cg_op_def cg_op_elu = {"elu", elu_backward};

typedef void (*param_forward_fn)(const float *x, float *y, int64_t n, float param);

static cg_tensor *param_activation(cg_ctx *ctx, const cg_op_def *op, param_forward_fn forward,
                                   cg_tensor *x, float param)
{
    if (cg__null_input(op->name, &x, 1)) return NULL;
    cg_tensor *y = cg__tensor_like(ctx, x);
    if (!y) return NULL;
    forward(x->data, y->data, x->size, param);
    if (cg__needs_grad(ctx, &x, 1)) {
        cg_node *node = cg__record(ctx, op, y, &x, 1);
        if (!node) return NULL;
        node->farg[0] = param;
    }
    return y;
}

cg_tensor *cg_leaky_relu(cg_ctx *ctx, cg_tensor *x, float negative_slope)
{
    return param_activation(ctx, &cg_op_leaky_relu, cg__leaky_relu_forward, x, negative_slope);
}

cg_tensor *cg_elu(cg_ctx *ctx, cg_tensor *x, float alpha)
{
    return param_activation(ctx, &cg_op_elu, cg__elu_forward, x, alpha);
}


cg_tensor *cg_activate(cg_ctx *ctx, cg_tensor *x, cg_activation act)
{
    switch (act) {
    case CG_ACT_NONE: return cg__null_input("activate", &x, 1) ? NULL : x;
    case CG_ACT_RELU: return cg_relu(ctx, x);
    case CG_ACT_SIGMOID: return cg_sigmoid(ctx, x);
    case CG_ACT_TANH: return cg_tanh(ctx, x);
    case CG_ACT_LEAKY_RELU: return cg_leaky_relu(ctx, x, CG_LEAKY_RELU_DEFAULT_SLOPE);
    case CG_ACT_ELU: return cg_elu(ctx, x, CG_ELU_DEFAULT_ALPHA);
    case CG_ACT_GELU: return cg_gelu(ctx, x);
    case CG_ACT_SOFTPLUS: return cg_softplus(ctx, x);
    }
    cg_set_error(CG_ERR_ARG, "activate: unknown activation %d", (int)act);
    return NULL;
}
