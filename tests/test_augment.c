/* Data augmentation: the model file's "augment" section, and what a random
 * crop and a flip do to an image — exactly a shift and/or mirror with zero
 * fill, drawn per sample from (seed, epoch, index), whatever the batch and
 * the thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { C = 2, H = 5, W = 4, PAD = 2 };

static const char *const IMAGE_MODEL =
    "{\"input\": [2, 5, 4], \"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 3}],"
    " \"augment\": {\"random_crop\": {\"padding\": 2}, \"hflip\": true}}";

static void expect_error(const char *json, const char *expect)
{
    cg_model_spec *spec = NULL;
    cg_status s = cg_model_spec_parse(json, &spec);
    if (s == CG_OK || !strstr(cg_last_error(), expect))
        fail_msg("for %s\n  expected: %s\n  got: %s", json, expect, cg_last_error());
    assert_null(spec);
}

static void model_file_section(void **state)
{
    (void)state;
    cg_model_spec *spec = NULL;
    assert_int_equal(cg_model_spec_parse(IMAGE_MODEL, &spec), CG_OK);
    assert_int_equal(spec->augment.crop_padding, 2);
    assert_true(spec->augment.hflip);
    char *json = cg_model_spec_to_json(spec);
    assert_non_null(strstr(json, "\"augment\":{\"random_crop\":{\"padding\":2},\"hflip\":true}"));
    cg_model_spec *again = NULL;
    assert_int_equal(cg_model_spec_parse(json, &again), CG_OK);
    assert_int_equal(again->augment.crop_padding, 2);
    free(json);
    cg_model_spec_free(again);
    cg_model_spec_free(spec);
    /* A model without it writes none. */
    assert_int_equal(cg_model_spec_parse("{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 2}]}",
                                         &spec), CG_OK);
    json = cg_model_spec_to_json(spec);
    assert_null(strstr(json, "augment"));
    free(json);
    cg_model_spec_free(spec);

    expect_error("{\"input\": [3], \"layers\": [{\"type\": \"dense\", \"units\": 2}], \"augment\": "
                 "{\"hflip\": true}}",
                 "augment: augmentation needs image inputs [channels, height, width], the model's "
                 "input is [3]");
    expect_error("{\"input\": [1, 4, 4], \"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", "
                 "\"units\": 2}], \"augment\": {\"random_crop\": {\"padding\": 4}}}",
                 "augment.random_crop.padding: 4 is not smaller than the image (4 x 4)");
    expect_error("{\"input\": [1, 4, 4], \"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", "
                 "\"units\": 2}], \"augment\": {\"random_crop\": {}}}",
                 "augment.random_crop: random_crop needs \"padding\"");
    expect_error("{\"input\": [1, 4, 4], \"layers\": [{\"type\": \"flatten\"}, {\"type\": \"dense\", "
                 "\"units\": 2}], \"augment\": {\"vflip\": true}}",
                 "augment: unknown key \"vflip\" (expected one of: random_crop, hflip)");
}

static float pixel(int c, int y, int x) { return 100.0f * (float)c + 10.0f * (float)y + (float)x + 1.0f; }

/* Which shift (dy, dx) and flip turn the original into img? -1 if none. */
static int find_transform(const float *img, int *dy_out, int *dx_out, int *flip_out)
{
    for (int flip = 0; flip < 2; flip++)
        for (int dy = -PAD; dy <= PAD; dy++)
            for (int dx = -PAD; dx <= PAD; dx++) {
                bool same = true;
                for (int c = 0; c < C && same; c++)
                    for (int y = 0; y < H && same; y++)
                        for (int x = 0; x < W && same; x++) {
                            int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                            float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? pixel(c, sy, sx) : 0.0f;
                            same = img[(c * H + y) * W + x] == want;
                        }
                if (same) {
                    *dy_out = dy;
                    *dx_out = dx;
                    *flip_out = flip;
                    return 0;
                }
            }
    return -1;
}

/* n copies of the test image, augmented as samples ids[0..n). */
static void augment_copies(cg_ctx *ctx, int64_t n, const int64_t *ids, int64_t epoch, float *out)
{
    cg_ctx_reset(ctx);
    cg_tensor *x = cg_tensor_new(ctx, 4, (int64_t[]){n, C, H, W});
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) x->data[((i * C + c) * H + y) * W + xx] = pixel(c, y, xx);
    cg_augment a = {.crop_padding = PAD, .hflip = true};
    assert_int_equal(cg__augment_batch(ctx, &a, x, ids, 42, epoch), CG_OK);
    memcpy(out, x->data, (size_t)x->size * sizeof *out);
}

enum { SAMPLES = 600 };

static void crop_and_flip_are_exact_and_cover_every_choice(void **state)
{
    (void)state;
    static int64_t ids[SAMPLES];
    static float out[SAMPLES * C * H * W];
    for (int i = 0; i < SAMPLES; i++) ids[i] = i;
    cg_ctx *ctx = cg_ctx_create(0);
    augment_copies(ctx, SAMPLES, ids, 0, out);
    int seen[2][2 * PAD + 1][2 * PAD + 1] = {{{0}}};
    int flips = 0;
    for (int i = 0; i < SAMPLES; i++) {
        int dy = 0, dx = 0, flip = 0;
        if (find_transform(out + i * C * H * W, &dy, &dx, &flip) != 0)
            fail_msg("sample %d is not a shifted/mirrored copy of the image", i);
        seen[flip][dy + PAD][dx + PAD]++;
        flips += flip;
    }
    for (int f = 0; f < 2; f++)
        for (int a = 0; a < 2 * PAD + 1; a++)
            for (int b = 0; b < 2 * PAD + 1; b++) assert_true(seen[f][a][b] > 0);
    assert_in_range(flips, SAMPLES / 2 - 60, SAMPLES / 2 + 60);
    cg_ctx_destroy(ctx);
}

/* Sample 7's augmentation depends on (seed, epoch, 7) only. */
static void per_sample_draws_do_not_depend_on_batch_or_threads(void **state)
{
    (void)state;
    static float a[SAMPLES * C * H * W], b[SAMPLES * C * H * W];
    static int64_t ids[SAMPLES], reversed[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        ids[i] = i;
        reversed[i] = SAMPLES - 1 - i;
    }
    cg_ctx *ctx = cg_ctx_create(0);
    int before = cg_get_num_threads();
    cg_set_num_threads(1);
    augment_copies(ctx, SAMPLES, ids, 3, a);
    cg_set_num_threads(2);
    augment_copies(ctx, SAMPLES, reversed, 3, b);
    const int64_t plane = C * H * W;
    for (int i = 0; i < SAMPLES; i++)
        assert_memory_equal(a + i * plane, b + (SAMPLES - 1 - i) * plane, (size_t)plane * sizeof(float));
    /* Another epoch draws anew. */
    augment_copies(ctx, SAMPLES, ids, 4, b);
    assert_memory_not_equal(a, b, sizeof a);
    cg_set_num_threads(before);
    cg_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_file_section),
        cmocka_unit_test(crop_and_flip_are_exact_and_cover_every_choice),
        cmocka_unit_test(per_sample_draws_do_not_depend_on_batch_or_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
