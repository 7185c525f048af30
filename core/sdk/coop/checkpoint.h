/* coop/checkpoint.h: load a CLIP checkpoint (safetensors, OpenAI/open_clip or
 * Hugging Face CLIPModel names, F32/F16/BF16) into struct coop_clip_model,
 * inferring the architecture from tensor names and shapes. See
 * docs/checkpoints.md. */
#ifndef COOP_CHECKPOINT_H
#define COOP_CHECKPOINT_H

#include "coop/clip.h"
#include "coop/common.h"

enum coop_ckpt_naming { COOP_CKPT_OPENAI = 1, COOP_CKPT_HF = 2 };

/* Fills *m (zeroed first); all weights in one float32 arena (m->arena).
 * Errors name the file and the missing tensor or the wrong shape (expected vs
 * got). On failure *m is left empty (nothing to free).
 * The caller states the layout it was compiled with (size = sizeof *m,
 * layout = COOP_CLIP_LAYOUT; the macro below passes both): a size or layout
 * other than this libcoop's is refused with COOP_E_INVAL and a message naming
 * both layouts, and nothing of *m is written. Since ABI 1.4; the unsized
 * function of earlier SDKs cannot tell its caller's layout and refuses every
 * call (docs/plugins.md, "Structs in the SDK"). */
COOP_API int coop_clip_model_load_sized(struct coop_clip_model *m, size_t size, unsigned layout,
                                        const char *path, struct coop_err *e);
COOP_API int coop_clip_model_load(struct coop_clip_model *m, const char *path,
                                  struct coop_err *e);
#define coop_clip_model_load(m, path, e) \
    coop_clip_model_load_sized((m), sizeof *(m), COOP_CLIP_LAYOUT, (path), (e))
/* Which naming the file uses (0 if neither). */
COOP_API int coop_clip_checkpoint_naming(const char *path, enum coop_ckpt_naming *naming,
                                         struct coop_err *e);
/* Frees the arena and block arrays; *m is zeroed. NULL-safe. */
COOP_API void coop_clip_model_free(struct coop_clip_model *m);
/* One parameter of a loaded model, named as in the OpenAI state dict. */
struct coop_clip_tensor_ref {
    char *name;
    int ndim;            /* 0 for the scalar logit_scale */
    int64_t shape[4];
    const float *data;   /* into the model (arena or &logit_scale) */
};
/* Every parameter in load order; free with coop_clip_tensor_refs_free. */
COOP_API int coop_clip_model_tensors(const struct coop_clip_model *m,
                                     struct coop_clip_tensor_ref **out, size_t *n,
                                     struct coop_err *e);
COOP_API void coop_clip_tensor_refs_free(struct coop_clip_tensor_ref *refs, size_t n);
/* Saves the model as F32 safetensors with OpenAI names (the inverse of load
 * for OpenAI naming). */
COOP_API int coop_clip_model_save(const struct coop_clip_model *m, const char *path,
                                  struct coop_err *e);

#endif
