/* tests/fuzz/fuzz_image.c: image decoding (PNG or JPEG, chosen by the first
 * bytes, from memory) and the preprocessing every decoded image goes through:
 * CLIP's eval transform, CoOp's train transform with a random resized crop, a
 * resize in the native mode, the RGB conversion and normalisation. Images over
 * 4 Mpixels are decoded but not preprocessed, to keep each input fast. */
#include "fuzz_util.h"
#include "coop/image.h"
#include "coop/util.h"

#define S 24

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void preprocess(struct coop_image *img, uint64_t seed)
{
    static uint8_t rgb[S * S * 3];
    static float chw[3 * S * S];
    struct coop_err e;
    struct coop_rng rng;
    coop_rng_seed(&rng, seed);
    if (coop_image_clip_eval_rgb8(rgb, img, S, &e) == 0)
        coop_image_normalize(chw, rgb, S, coop_clip_mean, coop_clip_std);
    coop_image_clip_train_rgb8(rgb, img, S, 0.08, &rng, &e);
    struct coop_image small;
    if (coop_image_resize(&small, img, 1 + img->w / 3, 1 + img->h / 2, NULL, &e) == 0)
        coop_image_free(&small);
    if (coop_image_convert_rgb(img, &e) == 0 && coop_image_clip_eval_rgb8(rgb, img, S, &e) != 0)
        abort(); /* an RGB image of a size that decoded must preprocess */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct coop_image img;
    struct coop_err e;
    if (coop_image_load_memory(&img, data, size, "fuzz.img", &e) != 0) {
        coop_image_free(&img);
        return 0;
    }
    if ((size_t)img.w * (size_t)img.h <= (4u << 20))
        preprocess(&img, size);
    coop_image_free(&img);
    return 0;
}
