/* The registry of differentiable ops, by name. Every op file defines a
 * cg_op_def; listing it here makes it visible to cg_op_count/cg_op_name,
 * and the gradient-check test refuses to pass while a listed op has no case. */
#include "internal.h"


extern const cg_op_def cg_op_matmul, cg_op_linear;
extern const cg_op_def cg_op_conv2d, cg_op_conv2d_maxpool;
extern const cg_op_def cg_op_add, cg_op_sub, cg_op_mul, cg_op_div, cg_op_add_scalar,
    cg_op_mul_scalar, cg_op_pow_scalar, cg_op_neg;
extern const cg_op_def cg_op_sum, cg_op_mean;
extern const cg_op_def cg_op_reshape, cg_op_concat, cg_op_slice;
extern const cg_op_def cg_op_sigmoid, cg_op_tanh, cg_op_relu, cg_op_leaky_relu, cg_op_elu,
    cg_op_gelu, cg_op_softplus, cg_op_softmax, cg_op_log_softmax;
extern const cg_op_def cg_op_dropout;
extern const cg_op_def cg_op_dropout2d, cg_op_maxpool2d, cg_op_avgpool2d, cg_op_global_avgpool;
extern const cg_op_def cg_op_batch_norm, cg_op_layer_norm;
extern const cg_op_def cg_op_embedding, cg_op_rnn, cg_op_lstm, cg_op_gru;
extern const cg_op_def cg_op_attention;
extern const cg_op_def cg_op_mse_loss, cg_op_l1_loss, cg_op_cross_entropy,
    cg_op_bce_with_logits;

static const cg_op_def *const registry[] = {
    &cg_op_matmul,
    &cg_op_linear,
    /* conv.c */
    &cg_op_conv2d,
    &cg_op_conv2d_maxpool,
    /* elementwise.c */
    &cg_op_add,
    &cg_op_sub,
    &cg_op_mul,
    &cg_op_div,
    &cg_op_add_scalar,
    &cg_op_mul_scalar,
    &cg_op_pow_scalar,
    &cg_op_neg,
    /* reduce.c */
    &cg_op_sum,
    &cg_op_mean,
    /* shape.c (flatten is recorded as reshape) */
    &cg_op_reshape,
    &cg_op_concat,
    &cg_op_slice,
    /* activation.c, softmax.c */
    &cg_op_sigmoid,
    &cg_op_tanh,
    &cg_op_relu,
    &cg_op_leaky_relu,
    &cg_op_elu,
    &cg_op_gelu,
    &cg_op_softplus,
    &cg_op_softmax,
    &cg_op_log_softmax,
    /* dropout.c */
    &cg_op_dropout,
    &cg_op_dropout2d,
    /* pool.c */
    &cg_op_maxpool2d,
    &cg_op_avgpool2d,
    &cg_op_global_avgpool,
    /* norm.c */
    &cg_op_batch_norm,
    &cg_op_layer_norm,
    /* embedding.c, recurrent.c */
    &cg_op_embedding,
    &cg_op_rnn,
    &cg_op_lstm,
    &cg_op_gru,
    /* attention.c */
    &cg_op_attention,
    /* loss.c */
    &cg_op_mse_loss,
    &cg_op_l1_loss,
    &cg_op_cross_entropy,
    &cg_op_bce_with_logits,
};

#define REGISTRY_SIZE (sizeof registry / sizeof registry[0])

size_t cg_op_count(void) { return REGISTRY_SIZE; }

const char *cg_op_name(size_t i) { return i < REGISTRY_SIZE ? registry[i]->name : NULL; }
