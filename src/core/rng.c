/* PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically
 * Good Algorithms for Random Number Generation", 2014): XSH-RR output on a
 * 64-bit LCG. Small state that checkpoints can store as two integers. */
#include "internal.h"

#include <math.h>

#define PCG_MULT 6364136223846793005ULL

void cg_rng_seed(cg_rng *rng, uint64_t seed)
{
    rng->state = 0;
    rng->inc = (seed << 1u) | 1u;
    cg_rng_u32(rng);
    rng->state += seed ^ 0x853c49e6748fea9bULL;
    cg_rng_u32(rng);
}

uint32_t cg_rng_u32(cg_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

uint32_t cg_rng_below(cg_rng *rng, uint32_t n)
{
    if (n <= 1) return 0;
    /* Reject the low values that would make the modulo biased. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t r = cg_rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

float cg_rng_uniform(cg_rng *rng)
{
    /* 24 random bits: every value exactly representable, never 1.0. */
    return (float)(cg_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

float cg_rng_normal(cg_rng *rng)
{
    /* Box-Muller; u1 in (0,1] keeps log finite. */
    double u1 = ((double)(cg_rng_u32(rng) >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(cg_rng_u32(rng) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* Uniform in [0, n) for n beyond 32 bits (rejection on 64-bit draws). */
static uint64_t below64(cg_rng *rng, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = ((uint64_t)cg_rng_u32(rng) << 32) | cg_rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

void cg_rng_shuffle(cg_rng *rng, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = i < UINT32_MAX ? (int64_t)cg_rng_below(rng, (uint32_t)(i + 1))
                                   : (int64_t)below64(rng, (uint64_t)i + 1);
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

/* ---- a training run's independent streams (cg_train_rng) ---- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

cg_rng cg_train_rng(uint64_t seed, int64_t epoch, cg_rng_stream stream)
{
    cg_rng rng;
    uint64_t key = splitmix64(seed) ^ splitmix64(((uint64_t)epoch << 2) | (uint64_t)stream);
    cg_rng_seed(&rng, splitmix64(key));
    return rng;
}
