/* vision.h: internals shared by the image towers (conv.c, resnet.c, vit.c,
 * params.c): convolution with a caller-provided workspace, eval-mode batch
 * norm, pooling, and the table of named tensors that drives allocation,
 * seeded initialisation and the fixture tests. Not installed. */
#ifndef COOP_VISION_INTERNAL_H
#define COOP_VISION_INTERNAL_H

#include "coop/clip.h"
#include <stddef.h>

#define VISION_BN_EPS 1e-5f

/* Output side of a convolution: (H + 2 pad - k) / stride + 1. */
static inline int vision_conv_out(int H, int k, int stride, int pad)
{
    return (H + 2 * pad - k) / stride + 1;
}

/* Workspace floats coop_vision_conv2d needs PER IMAGE (0 for 1x1 / stride 1 /
 * no pad, which needs no im2col). */
size_t coop_vision_conv2d_work(int Ci, int H, int W, int kh, int kw, int stride, int pad);

/* out [Co, nb, Ho, Wo] = conv(inp [Ci, nb, H, W], w [Co, Ci, kh, kw]) (+ bias
 * [Co]): channel-major over nb images, so one sgemm [Co, K] @ [K, nb*Ho*Wo]
 * serves them all; work holds nb * coop_vision_conv2d_work(...) floats. */
void coop_vision_conv2d(float *out, const float *inp, const float *w, const float *bias, int Ci,
                        int nb, int H, int W, int Co, int kh, int kw, int stride, int pad,
                        float *work);

/* In place on x [C, HW]: eval-mode BatchNorm (eps 1e-5), then ReLU if relu. */
void coop_vision_bn_act(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu);
void coop_vision_bn_act_ref(float *x, const struct coop_clip_bn *bn, int C, int HW, int relu);

/* out [C, H/k, W/k] = AvgPool2d(k) (kernel = stride = k, no padding, floor). */
void coop_vision_avgpool(float *out, const float *inp, int C, int H, int W, int k);

/* One query against T keys/values, H heads of D/H: out [D] =
 * softmax(q k^T / sqrt(D/H)) v per head; k, v rows ld floats apart; sc [T]
 * scratch. (ResNet attention pool; the ViT's last block in inference.) */
void coop_vision_attend_one(float *out, const float *q, const float *k, const float *v, int ld,
                       int T, int D, int H, float *sc);

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
