/* vision.h: internals shared by the image towers (bn_pool.c, resnet.c,
 * vit.c, params.c): eval-mode batch norm, pooling (convolution and one-query
 * attention are kernels: coop/nn.h), and the table of named tensors that drives allocation,
 * seeded initialisation and the fixture tests. Not installed. */
#ifndef COOP_VISION_INTERNAL_H
#define COOP_VISION_INTERNAL_H

#include "coop/clip.h"
#include <stddef.h>

#define VISION_BN_EPS COOP_CLIP_BN_EPS

/* In place on x [C, HW]: eval-mode BatchNorm (eps 1e-5), then ReLU if relu. */
void coop_vision_bn_act(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu);
void coop_vision_bn_act_ref(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu);

/* out [C, H/k, W/k] = AvgPool2d(k) (kernel = stride = k, no padding, floor). */
void coop_vision_avgpool(float *out, const float *inp, int C, int H, int W, int k);

/* ---- named tensors ------------------------------------------------------
 * Every parameter of a tower, in a fixed order, with its OpenAI state-dict
 * name, shape and the kind of seeded initialisation it gets. */
enum vision_init {
    VISION_INIT_MAT,   /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = prod(shape[1:]) */
    VISION_INIT_EMB,   /* U(-1/sqrt(width), 1/sqrt(width)) */
    VISION_INIT_GAIN,  /* U(0.9, 1.1): LayerNorm / BatchNorm weights */
    VISION_INIT_BIAS,  /* U(-0.05, 0.05): biases, BN running means */
    VISION_INIT_VAR    /* U(0.5, 1.5): BN running variances */
};
#define VISION_NAME_MAX 96
struct vision_tensor {
    char name[VISION_NAME_MAX];
    float **ptr;       /* the struct field that points at the data */
    int ndim, shape[4];
    size_t n;
    enum vision_init init;
    int width;         /* for VISION_INIT_EMB */
};
/* Fill t (capacity cap) with the tower's tensors; returns their count, or
 * -1 when cap is too small (call with t = NULL, cap = 0 to count). */
int coop_vision_vit_tensors(struct coop_clip_vit *v, struct vision_tensor *t, int cap);
int coop_vision_resnet_tensors(struct coop_clip_resnet *r, struct vision_tensor *t, int cap);

#endif
