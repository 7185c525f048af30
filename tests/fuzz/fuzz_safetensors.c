/* tests/fuzz/fuzz_safetensors.c: safetensors files and CLIP checkpoints as the
 * clip backbone opens them: coop_safetensors_open on the input (through a
 * scratch file: the reader maps files), every tensor converted to float32,
 * then coop_clip_model_load, which infers the architecture from the names. */
#include "fuzz_util.h"
#include "coop/checkpoint.h"
#include "coop/safetensors.h"
#include "coop/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void read_all(const struct coop_safetensors *st)
{
    struct coop_err e;
    for (size_t i = 0; i < coop_safetensors_count(st); i++) {
        const struct coop_st_tensor *t = coop_safetensors_at(st, i);
        size_t n = coop_st_numel(t);
        float *dst = n <= (16u << 20) ? malloc((n ? n : 1) * sizeof *dst) : NULL;
        if (dst)
            coop_st_tensor_to_f32(st, t, dst, &e);
        free(dst);
        if (coop_safetensors_find(st, t->name) != t)
            abort();
    }
    coop_safetensors_meta(st, "format");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1100];
    struct coop_err e;
    fuzz_write(path, sizeof path, "fuzz.safetensors", data, size);
    struct coop_safetensors *st = NULL;
    if (coop_safetensors_open(&st, path, &e) == 0) {
        read_all(st);
        coop_safetensors_close(st);
    }
    struct coop_clip_model m;
    if (coop_clip_model_load(&m, path, &e) == 0)
        coop_clip_model_free(&m);
    enum coop_ckpt_naming naming;
    coop_clip_checkpoint_naming(path, &naming, &e);
    return 0;
}
