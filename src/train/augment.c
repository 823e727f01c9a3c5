/* Data augmentation of image batches [N, C, H, W] in place: a random crop
 * of the zero-padded image and a random left-right flip, as torchvision's
 * RandomCrop(padding=P) followed by RandomHorizontalFlip().
 *
 * Each sample draws from its own generator, seeded from (seed, epoch, the
 * sample's index in the data set), so the result depends neither on the
 * batch it lands in nor on the thread count, and a resumed run augments
 * exactly as an uninterrupted one. */
#include "internal.h"

#include <string.h>

/* One sample: every channel plane through the same crop offset and flip. */
static void augment_sample(const cg_augment *a, float *img, int64_t c, int64_t h, int64_t w,
                           cg_rng *rng, float *plane)
{
    int64_t pad = a->crop_padding, dy = 0, dx = 0;
    if (pad > 0) {
        dy = (int64_t)cg_rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
        dx = (int64_t)cg_rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
    }
    bool flip = a->hflip && (cg_rng_u32(rng) & 1u);
    if (dy == 0 && dx == 0 && !flip) return;
    for (int64_t ch = 0; ch < c; ch++) {
        float *p = img + ch * h * w;
        memcpy(plane, p, (size_t)(h * w) * sizeof *plane);
        for (int64_t y = 0; y < h; y++) {
            int64_t sy = y + dy;
            for (int64_t x = 0; x < w; x++) {
                int64_t sx = (flip ? w - 1 - x : x) + dx;
                bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                p[y * w + x] = inside ? plane[sy * w + sx] : 0.0f;
            }
        }
    }
}

bool cg__augment_active(const cg_augment *a) { return a->crop_padding > 0 || a->hflip; }

cg_status cg__augment_batch(cg_ctx *ctx, const cg_augment *a, cg_tensor *x,
                            const int64_t *sample_ids, uint64_t seed, int64_t epoch)
{
    if (x->ndim != 4)
        return cg_set_error(CG_ERR_ARG, "augmentation needs image batches [N, C, H, W], got %d "
                                        "dimensions", x->ndim);
    int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int threads = cg__max_threads();
    float *planes = cg__scratch(ctx, (int64_t)threads * h * w);
    if (!planes) return cg_last_status();
    cg_rng base = cg_train_rng(seed, epoch, CG_STREAM_AUGMENT);
    uint64_t key = ((uint64_t)cg_rng_u32(&base) << 32) | cg_rng_u32(&base);
#pragma omp parallel for schedule(static) num_threads(threads) if (n * c * h * w > 65536)
    for (int64_t i = 0; i < n; i++) {
        cg_rng rng;
        cg_rng_seed(&rng, key ^ ((uint64_t)sample_ids[i] * 0x9E3779B97F4A7C15ULL));
        float *plane = planes + (int64_t)cg__thread_index() * h * w;
        augment_sample(a, x->data + i * c * h * w, c, h, w, &rng, plane);
    }
    return CG_OK;
}
