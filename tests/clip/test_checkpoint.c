/* test_checkpoint.c: the CLIP checkpoint loader on PyTorch-written golden
 * files (tests/clip/gen_checkpoint_golden.py: tiny ViT and ResNet, OpenAI and
 * Hugging Face names, F32 / mixed F16 / F16 / BF16), exact values through
 * expect.txt, save/reload round trips, architecture naming of the released
 * shapes (sparse files, header only), and the error messages for missing
 * tensors and wrong shapes; callers of another struct layout refused. */
#include "coop/checkpoint.h"
#include "coop/safetensors.h"
#include "coop/util.h"
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/check_run.h"
#include "../common/tmpdir.h"

int coop_clip_infer_arch(struct coop_clip_model *m, const struct coop_safetensors *st,
                         int naming, struct coop_err *e);

static char tmpdir[256];
static char tmp[4200];

static void setup(void)
{
    ck_assert_int_eq(coop_test_tmpdir(tmpdir, sizeof tmpdir, "checkpoint"), 0);
    snprintf(tmp, sizeof tmp, "%s/m.safetensors", tmpdir);
}

static void teardown(void)
{
    ck_assert_int_eq(coop_test_rmtree(tmpdir), 0);
}

static const char *fixture(const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/tests/clip/data/ckpt/%s", getenv("COOP_SOURCE_ROOT"), name);
    return p;
}

static void load_ok(struct coop_clip_model *m, const char *path)
{
    struct coop_err e;
    ck_assert_msg(coop_clip_model_load(m, path, &e) == 0, "%s", e.msg);
}

/* Every expect.txt line of tag: shape and exact integer sums of value*256. */
static int check_expect(const struct coop_clip_model *m, const char *tag)
{
    struct coop_clip_tensor_ref *r;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_model_tensors(m, &r, &n, &e), 0);
    FILE *f = fopen(fixture("expect.txt"), "r");
    ck_assert(f != NULL);
    char line[512], t[16], name[256], shape[64];
    long long s1, s2;
    int checked = 0;
    ck_assert(fgets(line, sizeof line, f) && strstr(line, "coop checkpoint golden v1"));
    while (fgets(line, sizeof line, f)) {
        ck_assert_int_eq(sscanf(line, "%15s %255s %63s %lld %lld", t, name, shape, &s1, &s2), 5);
        if (strcmp(t, tag) != 0 || strstr(name, "num_batches_tracked"))
            continue;
        size_t k = 0;
        while (k < n && strcmp(r[k].name, name) != 0)
            k++;
        ck_assert_msg(k < n, "%s: %s not in the loaded model", tag, name);
        char got[64] = "";
        size_t numel = 1;
        for (int d = 0; d < r[k].ndim; d++) {
            snprintf(got + strlen(got), sizeof got - strlen(got), d ? "x%lld" : "%lld",
                     (long long)r[k].shape[d]);
            numel *= (size_t)r[k].shape[d];
        }
        ck_assert_str_eq(r[k].ndim ? got : "scalar", shape);
        double a = 0, b = 0;
        for (size_t i = 0; i < numel; i++) {
            a += r[k].data[i] * 256.0;
            b += r[k].data[i] * 256.0 * (double)(i % 7 + 1);
        }
        ck_assert_msg(a == (double)s1 && b == (double)s2, "%s %s: sums %.1f %.1f want %lld %lld",
                      tag, name, a, b, s1, s2);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, (int)n); /* and nothing extra in the model */
    coop_clip_tensor_refs_free(r, n);
    return checked;
}

static void check_tiny_text(const struct coop_clip_model *m)
{
    ck_assert_int_eq(m->text.vocab_size, 100);
    ck_assert_int_eq(m->text.context_length, 8);
    ck_assert_int_eq(m->text.width, 32);
    ck_assert_int_eq(m->text.layers, 2);
    ck_assert_int_eq(m->text.heads, 1);
    ck_assert_int_eq(m->text.embed_dim, 16);
    ck_assert(m->logit_scale == 4.625f);
}

START_TEST(vit_golden_all_formats)
{
    const char *files[] = {"vit_openai_f32.safetensors", "vit_openai_f16mixed.safetensors",
                           "vit_openai_bf16.safetensors", "vit_hf_f16.safetensors",
                           "vit_hf_bf16.safetensors"};
    struct coop_clip_model ref;
    load_ok(&ref, fixture(files[0]));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct coop_clip_model m;
        load_ok(&m, fixture(files[i]));
        check_tiny_text(&m);
        ck_assert_int_eq(m.vision_kind, COOP_CLIP_VISION_VIT);
        ck_assert_int_eq(m.vit.width, 32);
        ck_assert_int_eq(m.vit.patch_size, 4);
        ck_assert_int_eq(m.vit.image_size, 8);
        ck_assert_int_eq(m.vit.layers, 2);
        ck_assert_int_eq(m.vit.heads, 1);
        ck_assert_int_eq(m.vit.embed_dim, 16);
        ck_assert_str_eq(m.arch, "ViT-custom-w32-l2-p4-s8-e16-t32x2");
        ck_assert_int_eq(check_expect(&m, "vit"), 12 * 4 + 5 + 8 + 1);
        ck_assert_uint_eq(m.n_floats, ref.n_floats);
        ck_assert(memcmp(m.arena, ref.arena, ref.n_floats * sizeof(float)) == 0);
        ck_assert_uint_eq((uintptr_t)m.arena % 64, 0);
        ck_assert_uint_eq((uintptr_t)m.text.blocks[1].in_proj_w % 64, 0);
        coop_clip_model_free(&m);
        ck_assert_ptr_null(m.arena);
    }
    enum coop_ckpt_naming nm;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_checkpoint_naming(fixture(files[3]), &nm, &e), 0);
    ck_assert_int_eq(nm, COOP_CKPT_HF);
    ck_assert_int_eq(coop_clip_checkpoint_naming(fixture(files[0]), &nm, &e), 0);
    ck_assert_int_eq(nm, COOP_CKPT_OPENAI);
    coop_clip_model_free(&ref);
    coop_clip_model_free(NULL);
}
END_TEST

START_TEST(resnet_golden)
{
    struct coop_clip_model a, b;
    load_ok(&a, fixture("rn_openai_f16mixed.safetensors"));
    load_ok(&b, fixture("rn_openai_bf16.safetensors"));
    check_tiny_text(&a);
    ck_assert_int_eq(a.vision_kind, COOP_CLIP_VISION_RESNET);
    ck_assert_int_eq(a.resnet.width, 4);
    ck_assert_int_eq(a.resnet.image_size, 32);
    ck_assert_int_eq(a.resnet.embed_dim, 16);
    ck_assert_int_eq(a.resnet.heads, 2); /* 4 * 32 / 64 */
    int want[4] = {1, 1, 2, 1};
    ck_assert(memcmp(a.resnet.layers, want, sizeof want) == 0);
    ck_assert_str_eq(a.arch, "RN-custom-w4-l1.1.2.1-s32-e16-t32x2");
    const struct coop_clip_bottleneck *bl = a.resnet.blocks;
    ck_assert(bl[0].has_downsample && bl[0].stride == 1 && bl[0].inplanes == 4 && bl[0].planes == 4);
    ck_assert(bl[1].has_downsample && bl[1].stride == 2 && bl[1].inplanes == 16);
    ck_assert(bl[2].has_downsample && bl[2].stride == 2 && bl[2].planes == 16);
    ck_assert(!bl[3].has_downsample && bl[3].stride == 1 && bl[3].inplanes == 64);
    ck_assert(bl[4].has_downsample && bl[4].planes == 32);
    check_expect(&a, "rn");
    ck_assert(memcmp(a.arena, b.arena, a.n_floats * sizeof(float)) == 0);
    coop_clip_model_free(&a);
    coop_clip_model_free(&b);
}
END_TEST

START_TEST(save_reload_round_trip)
{
    const char *files[] = {"vit_hf_bf16.safetensors", "rn_openai_bf16.safetensors"};
    for (int i = 0; i < 2; i++) {
        struct coop_clip_model a, b;
        struct coop_err e;
        load_ok(&a, fixture(files[i]));
        ck_assert_msg(coop_clip_model_save(&a, tmp, &e) == 0, "%s", e.msg);
        load_ok(&b, tmp);
        ck_assert_str_eq(a.arch, b.arch);
        ck_assert_int_eq(a.text.heads, b.text.heads);
        ck_assert_uint_eq(a.n_floats, b.n_floats);
        ck_assert(memcmp(a.arena, b.arena, a.n_floats * sizeof(float)) == 0);
        ck_assert(a.logit_scale == b.logit_scale);
        struct coop_safetensors *st;
        ck_assert_int_eq(coop_safetensors_open(&st, tmp, &e), 0);
        ck_assert_str_eq(coop_safetensors_meta(st, "coop.arch"), a.arch);
        ck_assert_int_eq(coop_safetensors_find(st, "logit_scale")->ndim, 0);
        coop_safetensors_close(st);
        coop_clip_model_free(&a);
        coop_clip_model_free(&b);
    }
}
END_TEST

/* Writes the tensors of m (OpenAI names) to tmp, minus names containing
 * drop, with the tensor named resize given one row less. */
static void write_variant(const struct coop_clip_model *m, const char *drop, const char *resize,
                          const char *const *meta)
{
    struct coop_clip_tensor_ref *r;
    size_t n, k = 0;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_model_tensors(m, &r, &n, &e), 0);
    const char **names = calloc(n, sizeof *names);
    const int64_t **shapes = calloc(n, sizeof *shapes);
    const float **data = calloc(n, sizeof *data);
    int *nd = calloc(n, sizeof *nd);
    for (size_t i = 0; i < n; i++) {
        if (drop && strstr(r[i].name, drop))
            continue;
        if (resize && strcmp(r[i].name, resize) == 0)
            r[i].shape[0]--;
        names[k] = r[i].name;
        shapes[k] = r[i].shape;
        data[k] = r[i].data;
        nd[k++] = r[i].ndim;
    }
    ck_assert_msg(coop_safetensors_write(tmp, k, names, nd, shapes, data, meta, &e) == 0, "%s",
                  e.msg);
    free(names);
    free(shapes);
    free(data);
    free(nd);
    coop_clip_tensor_refs_free(r, n);
}

static void expect_load_error(int code, const char *needle)
{
    struct coop_clip_model m;
    struct coop_err e = {{0}};
    int rc = coop_clip_model_load(&m, tmp, &e);
    ck_assert_msg(rc == code, "rc %d (%s), wanted %d", rc, e.msg, code);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    ck_assert_ptr_null(m.arena);
}

START_TEST(missing_and_misshaped_tensors)
{
    struct coop_clip_model m;
    const char *meta[] = {"coop.text_heads", "1", "coop.vision_heads", "1", NULL};
    load_ok(&m, fixture("vit_openai_f32.safetensors"));
    write_variant(&m, "transformer.resblocks.1.mlp.c_fc.bias", NULL, meta);
    expect_load_error(COOP_E_NOTFOUND, "tensor 'transformer.resblocks.1.mlp.c_fc.bias' not found");
    write_variant(&m, "transformer.resblocks.0.", NULL, meta); /* a hole in the layers */
    expect_load_error(COOP_E_NOTFOUND, "tensor 'transformer.resblocks.0.ln_1.weight' not found");
    write_variant(&m, NULL, "ln_final.weight", meta);
    expect_load_error(COOP_E_FORMAT, "'ln_final.weight': wrong shape: expected [32], got [31]");
    write_variant(&m, NULL, "visual.transformer.resblocks.1.attn.in_proj_weight", meta);
    expect_load_error(COOP_E_FORMAT, "'visual.transformer.resblocks.1.attn.in_proj_weight': "
                                     "wrong shape: expected [96, 32], got [95, 32]");
    write_variant(&m, "logit_scale", NULL, meta);
    expect_load_error(COOP_E_NOTFOUND, "tensor 'logit_scale' not found");
    write_variant(&m, "token_embedding", NULL, meta);
    expect_load_error(COOP_E_NOTFOUND, "not a CLIP checkpoint");
    write_variant(&m, NULL, NULL, NULL); /* width 32 and no heads metadata */
    expect_load_error(COOP_E_FORMAT, "width 32 is not a multiple of 64");
    const char *bad[] = {"coop.text_heads", "3", NULL};
    write_variant(&m, NULL, NULL, bad);
    expect_load_error(COOP_E_FORMAT, "coop.text_heads='3' does not divide width 32");
    /* text-only: no visual.* at all */
    write_variant(&m, "visual.", NULL, meta);
    struct coop_clip_model t;
    load_ok(&t, tmp);
    ck_assert_int_eq(t.vision_kind, COOP_CLIP_VISION_NONE);
    ck_assert_str_eq(t.arch, "text-only-w32-l2-e16");
    ck_assert(memcmp(t.arena, m.arena, t.n_floats * sizeof(float)) == 0); /* text comes first */
    coop_clip_model_free(&t);
    coop_clip_model_free(&m);
    /* a truncated checkpoint fails in the reader with the offset */
    FILE *f = fopen(fixture("vit_openai_f32.safetensors"), "rb"), *g = fopen(tmp, "wb");
    static char buf[10000];
    size_t got = fread(buf, 1, sizeof buf, f);
    fwrite(buf, 1, got, g);
    fclose(f);
    fclose(g);
    expect_load_error(COOP_E_FORMAT, "outside the data buffer");
}
END_TEST

/* Rewrites the HF fixture as F32 into tmp by hand, without tensor drop and
 * with element 5 of tensor poison set to value (either may be NULL). */
static void hf_rewrite(const char *drop, const char *poison, float value)
{
    struct coop_safetensors *st;
    struct coop_err e;
    ck_assert_int_eq(coop_safetensors_open(&st, fixture("vit_hf_f16.safetensors"), &e), 0);
    size_t n = coop_safetensors_count(st), k = 0;
    const char **names = calloc(n, sizeof *names);
    const int64_t **shapes = calloc(n, sizeof *shapes);
    const float **data = calloc(n, sizeof *data);
    int *nd = calloc(n, sizeof *nd);
    float **bufs = calloc(n, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const struct coop_st_tensor *t = coop_safetensors_at(st, i);
        if ((drop && strcmp(t->name, drop) == 0) || t->dtype == COOP_ST_I64)
            continue;
        bufs[k] = malloc((coop_st_numel(t) + 1) * sizeof(float));
        ck_assert_int_eq(coop_st_tensor_to_f32(st, t, bufs[k], &e), 0);
        if (poison && strcmp(t->name, poison) == 0)
            bufs[k][5] = value;
        names[k] = t->name;
        shapes[k] = t->shape;
        data[k] = bufs[k];
        nd[k++] = t->ndim;
    }
    const char *meta[] = {"coop.text_heads", "1", "coop.vision_heads", "1", NULL};
    ck_assert_int_eq(coop_safetensors_write(tmp, k, names, nd, shapes, data, meta, &e), 0);
    coop_safetensors_close(st);
    for (size_t i = 0; i < k; i++)
        free(bufs[i]);
    free(bufs);
    free(names);
    free(shapes);
    free(data);
    free(nd);
}

START_TEST(hf_missing_qkv_part)
{
    hf_rewrite("text_model.encoder.layers.1.self_attn.k_proj.weight", NULL, 0);
    expect_load_error(COOP_E_NOTFOUND,
                      "tensor 'text_model.encoder.layers.1.self_attn.k_proj.weight' not found");
}
END_TEST

/* NaN or Inf anywhere in the weights is refused at load, naming the file's
 * tensor (the q/k/v part, a transposed projection, the scalar logit scale). */
START_TEST(non_finite_weights_refused)
{
    struct coop_clip_model m;
    const char *meta[] = {"coop.text_heads", "1", "coop.vision_heads", "1", NULL};
    load_ok(&m, fixture("vit_openai_f32.safetensors"));
    float keep = m.text.blocks[1].c_fc_b[3];
    m.text.blocks[1].c_fc_b[3] = NAN;
    write_variant(&m, NULL, NULL, meta);
    expect_load_error(COOP_E_FORMAT,
                      "tensor 'transformer.resblocks.1.mlp.c_fc.bias': element 3 is NaN");
    m.text.blocks[1].c_fc_b[3] = keep;
    keep = m.vit.proj[0];
    m.vit.proj[0] = -INFINITY;
    write_variant(&m, NULL, NULL, meta);
    expect_load_error(COOP_E_FORMAT, "tensor 'visual.proj': element 0 is -Inf");
    m.vit.proj[0] = keep;
    keep = m.logit_scale;
    m.logit_scale = INFINITY;
    write_variant(&m, NULL, NULL, meta);
    expect_load_error(COOP_E_FORMAT, "tensor 'logit_scale': element 0 is +Inf");
    m.logit_scale = keep;
    write_variant(&m, NULL, NULL, meta); /* all finite again: loads */
    struct coop_clip_model ok;
    load_ok(&ok, tmp);
    coop_clip_model_free(&ok);
    coop_clip_model_free(&m);
    hf_rewrite(NULL, "text_model.encoder.layers.1.self_attn.k_proj.weight", NAN);
    expect_load_error(COOP_E_FORMAT,
                      "tensor 'text_model.encoder.layers.1.self_attn.k_proj.weight': element 5 "
                      "is NaN");
    hf_rewrite(NULL, "visual_projection.weight", INFINITY);
    expect_load_error(COOP_E_FORMAT, "tensor 'visual_projection.weight': element 5 is +Inf");
}
END_TEST

/* Header-only checkpoint with released shapes: the data region is a sparse
 * hole (ftruncate), and only the architecture inference runs. */
static void sparse_ckpt(struct coop_clip_model *shape_src, const char *expect)
{
    struct coop_clip_tensor_ref *r;
    size_t n;
    struct coop_err e;
    ck_assert_int_eq(coop_clip_model_tensors(shape_src, &r, &n, &e), 0);
    char *hdr = NULL;
    size_t hl = 0;
    FILE *mf = open_memstream(&hdr, &hl);
    uint64_t off = 0;
    fputc('{', mf);
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        fprintf(mf, "%s\"%s\":{\"dtype\":\"F16\",\"shape\":[", i ? "," : "", r[i].name);
        for (int d = 0; d < r[i].ndim; d++) {
            fprintf(mf, d ? ",%lld" : "%lld", (long long)r[i].shape[d]);
            numel *= (uint64_t)r[i].shape[d];
        }
        fprintf(mf, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                (unsigned long long)(off + 2 * numel));
        off += 2 * numel;
    }
    fputc('}', mf);
    fclose(mf);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t len = hl;
    unsigned char l8[8];
    for (int i = 0; i < 8; i++)
        l8[i] = (unsigned char)(len >> (8 * i));
    ck_assert(write(fd, l8, 8) == 8 && write(fd, hdr, hl) == (ssize_t)hl);
    ck_assert_int_eq(ftruncate(fd, (off_t)(8 + hl + off)), 0);
    close(fd);
    free(hdr);
    coop_clip_tensor_refs_free(r, n);
    struct coop_safetensors *st;
    ck_assert_msg(coop_safetensors_open(&st, tmp, &e) == 0, "%s", e.msg);
    struct coop_clip_model m;
    memset(&m, 0, sizeof m);
    ck_assert_msg(coop_clip_infer_arch(&m, st, COOP_CKPT_OPENAI, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.arch, expect);
    ck_assert_int_eq(m.text.heads, 8);
    coop_safetensors_close(st);
}

/* A model struct with released sizes and NULL data, for names and shapes. */
static void released_text(struct coop_clip_model *m, struct coop_clip_block *tb, int embed)
{
    memset(m, 0, sizeof *m);
    m->text = (struct coop_clip_text){.context_length = 77, .vocab_size = 49408, .width = 512,
                                      .heads = 8, .layers = 12, .embed_dim = embed, .blocks = tb};
}

START_TEST(released_architectures_named)
{
    static struct coop_clip_block tb[12], vb[12];
    static struct coop_clip_bottleneck bb[3 + 4 + 23 + 3];
    struct coop_clip_model m;
    const struct { const char *name; int patch; } vits[] = {{"ViT-B/32", 32}, {"ViT-B/16", 16}};
    for (int i = 0; i < 2; i++) {
        released_text(&m, tb, 512);
        m.vision_kind = COOP_CLIP_VISION_VIT;
        m.vit = (struct coop_clip_vit){.image_size = 224, .patch_size = vits[i].patch,
                                       .width = 768, .heads = 12, .layers = 12, .embed_dim = 512};
        m.vit.blocks = vb;
        sparse_ckpt(&m, vits[i].name);
    }
    const struct { const char *name; int layers[4], embed; } rns[] = {
        {"RN50", {3, 4, 6, 3}, 1024}, {"RN101", {3, 4, 23, 3}, 512}};
    for (int i = 0; i < 2; i++) {
        released_text(&m, tb, rns[i].embed);
        m.vision_kind = COOP_CLIP_VISION_RESNET;
        m.resnet.image_size = 224;
        m.resnet.width = 64;
        m.resnet.embed_dim = rns[i].embed;
        memcpy(m.resnet.layers, rns[i].layers, sizeof m.resnet.layers);
        m.resnet.blocks = bb;
        int k = 0, inplanes = 64;
        for (int l = 0; l < 4; l++)
            for (int j = 0; j < rns[i].layers[l]; j++, k++) {
                bb[k].inplanes = inplanes;
                bb[k].planes = 64 << l;
                bb[k].stride = (j == 0 && l > 0) ? 2 : 1;
                bb[k].has_downsample = bb[k].stride > 1 || inplanes != 4 * bb[k].planes;
                inplanes = 4 * bb[k].planes;
            }
        sparse_ckpt(&m, rns[i].name);
    }
    released_text(&m, tb, 512); /* ViT-B/16 with a 6-layer vision tower: custom */
    m.vision_kind = COOP_CLIP_VISION_VIT;
    m.vit = (struct coop_clip_vit){.image_size = 224, .patch_size = 16, .width = 768,
                                   .heads = 12, .layers = 6, .embed_dim = 512};
    m.vit.blocks = vb;
    sparse_ckpt(&m, "ViT-custom-w768-l6-p16-s224-e512-t512x12");
}
END_TEST

/* A caller whose struct coop_clip_model is smaller (a plugin built against the
 * headers of an older layout) or of another layout is refused with both
 * layouts named, and its memory, exactly its size on the heap (ASan sees an
 * overrun), is left as it was; the unsized entry of older SDKs is refused. */
static void refused(size_t size, unsigned layout, const char *want)
{
    unsigned char *buf = malloc(size);
    ck_assert(buf != NULL);
    memset(buf, 0xa5, size);
    struct coop_err e;
    int rc = coop_clip_model_load_sized((struct coop_clip_model *)buf, size, layout,
                                        fixture("vit_openai_f32.safetensors"), &e);
    ck_assert_int_eq(rc, COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "rebuild the plugin against the installed SDK"), "%s", e.msg);
    for (size_t i = 0; i < size; i++)
        ck_assert_uint_eq(buf[i], 0xa5);
    free(buf);
}

START_TEST(other_layouts_refused)
{
    size_t n = sizeof(struct coop_clip_model);
    char *want = coop_asprintf("has layout 2 (%zu bytes), this coop's has layout %u (%zu bytes)",
                               n - 3 * sizeof(void *), COOP_CLIP_LAYOUT, n);
    refused(n - 3 * sizeof(void *), 2, want);
    free(want);
    want = coop_asprintf("has layout %u (%zu bytes), this coop's", COOP_CLIP_LAYOUT, n - 8);
    refused(n - 8, COOP_CLIP_LAYOUT, want);
    free(want);
    refused(n, COOP_CLIP_LAYOUT + 1, "coop_clip_model has layout 4 (");
    struct coop_clip_model m;
    memset(&m, 0xa5, sizeof m);
    struct coop_err e;
    ck_assert_int_eq((coop_clip_model_load)(&m, fixture("vit_openai_f32.safetensors"), &e),
                     COOP_E_INVAL);
    ck_assert_msg(strstr(e.msg, "without its struct's layout"), "%s", e.msg);
    const unsigned char *b = (const unsigned char *)&m;
    for (size_t i = 0; i < sizeof m; i++)
        ck_assert_uint_eq(b[i], 0xa5);
    load_ok(&m, fixture("vit_openai_f32.safetensors"));
    coop_clip_model_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, vit_golden_all_formats);
    tcase_add_test(tc, resnet_golden);
    tcase_add_test(tc, save_reload_round_trip);
    tcase_add_test(tc, missing_and_misshaped_tensors);
    tcase_add_test(tc, hf_missing_qkv_part);
    tcase_add_test(tc, non_finite_weights_refused);
    tcase_add_test(tc, released_architectures_named);
    tcase_add_test(tc, other_layouts_refused);
    suite_add_tcase(s, tc);
    return coop_check_run(s);
}
