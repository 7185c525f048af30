/* config.c: the pretraining configuration: defaults (the shipped model's
 * recipe), a "key = value" file format, a dump of every key and range
 * checks. */
#include "coop/pretrain.h"
#include "coop/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coop_pretrain_config_default(struct coop_pretrain_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->image_size = 32;
    c->patch_size = 8;
    c->vision_width = 256;
    c->vision_layers = 2;
    c->context_length = 32;
    c->text_width = 64;
    c->text_layers = 2;
    c->embed_dim = 64;
    c->batch_size = 64;
    c->steps = 14000;
    c->warmup = 300;
    c->lr = 1e-3;
    c->weight_decay = 0.1;
    c->beta1 = 0.9;
    c->beta2 = 0.98;
    c->eps = 1e-6;
    c->init_logit_scale = 2.6592600258; /* ln(1 / 0.07) */
    c->sketch_fraction = 0.1;
    c->rendition_fraction = 0.1;
    c->cooccurrence = 0.4;
    c->supersample = 4;
    c->bpe_captions = 20000;
    c->bpe_merges = 2000;
    c->bpe_min_count = 2;
    c->log_every = 250;
    c->long_captions = 0.5;
    c->style_words = 1;
    c->caption_noise = 0;
}

enum ktype { K_INT, K_LONG, K_U64, K_DBL };
static const struct key {
    const char *name;
    enum ktype type;
    size_t off;
} keys[] = {
#define K(n, t) {#n, t, offsetof(struct coop_pretrain_config, n)}
    K(seed, K_U64), K(image_size, K_INT), K(patch_size, K_INT), K(vision_width, K_INT),
    K(vision_layers, K_INT), K(context_length, K_INT), K(text_width, K_INT),
    K(text_layers, K_INT), K(embed_dim, K_INT), K(batch_size, K_INT), K(steps, K_LONG),
    K(warmup, K_LONG), K(lr, K_DBL), K(weight_decay, K_DBL), K(beta1, K_DBL), K(beta2, K_DBL),
    K(eps, K_DBL), K(init_logit_scale, K_DBL), K(sketch_fraction, K_DBL),
    K(rendition_fraction, K_DBL), K(cooccurrence, K_DBL), K(supersample, K_INT),
    K(bpe_captions, K_INT), K(bpe_merges, K_INT), K(bpe_min_count, K_LONG), K(log_every, K_INT),
    K(data_pool, K_LONG), K(decay_embeddings, K_INT), K(long_captions, K_DBL), K(style_words, K_DBL),
    K(caption_noise, K_DBL),
#undef K
};
#define NKEYS (sizeof keys / sizeof keys[0])

int coop_pretrain_config_set(struct coop_pretrain_config *c, const char *key, const char *value,
                             struct coop_err *e)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, key) != 0)
            continue;
        char *end;
        void *p = (char *)c + keys[i].off;
        errno = 0;
        if (keys[i].type == K_DBL) {
            double v = strtod(value, &end);
            if (end != value && !*end && !errno)
                *(double *)p = v;
            else
                end = NULL;
        } else {
            long long v = strtoll(value, &end, 10);
            if (end == value || *end || errno || (keys[i].type != K_U64 && v < 0) ||
                (keys[i].type == K_INT && v > 1000000000))
                end = NULL;
            else if (keys[i].type == K_INT)
                *(int *)p = (int)v;
            else if (keys[i].type == K_LONG)
                *(long *)p = (long)v;
            else
                *(uint64_t *)p = (uint64_t)v;
        }
        if (!end)
            return coop_fail(e, COOP_E_INVAL, "pretrain config: key '%s': bad value '%s'", key,
                             value);
        return 0;
    }
    const char *names[NKEYS];
    for (size_t i = 0; i < NKEYS; i++)
        names[i] = keys[i].name;
    const char *s = coop_suggest(key, names, NKEYS);
    return coop_fail(e, COOP_E_NOTFOUND, "pretrain config: unknown key '%s'%s%s%s", key,
                     s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int coop_pretrain_config_load(struct coop_pretrain_config *c, const char *path,
                              struct coop_err *e)
{
    char *buf;
    size_t len;
    int rc = coop_read_file(path, 1u << 20, &buf, &len, e);
    if (rc)
        return rc;
    int line = 0;
    for (char *s = buf, *nl; rc == 0 && s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *h = strchr(s, '#');
        if (h)
            *h = '\0';
        char *t = trim(s);
        if (!*t)
            continue;
        char *eq = strchr(t, '=');
        if (!eq) {
            rc = coop_fail(e, COOP_E_FORMAT, "%s:%d: expected 'key = value'", path, line);
            break;
        }
        *eq = '\0';
        rc = coop_pretrain_config_set(c, trim(t), trim(eq + 1), e);
        if (rc)
            coop_fail_prefix(e, rc, "%s:%d", path, line);
    }
    free(buf);
    return rc;
}

char *coop_pretrain_config_dump(const struct coop_pretrain_config *c)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < NKEYS; i++) {
        const void *p = (const char *)c + keys[i].off;
        int w;
        if (keys[i].type == K_DBL) {
            /* shortest of 15 or 17 digits that reads back exactly */
            double v = *(const double *)p;
            char num[40];
            snprintf(num, sizeof num, "%.15g", v);
            if (strtod(num, NULL) != v)
                snprintf(num, sizeof num, "%.17g", v);
            w = snprintf(out + n, cap - n, "%s = %s\n", keys[i].name, num);
        }
        else if (keys[i].type == K_INT)
            w = snprintf(out + n, cap - n, "%s = %d\n", keys[i].name, *(const int *)p);
        else if (keys[i].type == K_LONG)
            w = snprintf(out + n, cap - n, "%s = %ld\n", keys[i].name, *(const long *)p);
        else
            w = snprintf(out + n, cap - n, "%s = %llu\n", keys[i].name,
                         (unsigned long long)*(const uint64_t *)p);
        if (w < 0 || (size_t)w >= cap - n) {
            free(out);
            return NULL;
        }
        n += (size_t)w;
    }
    return out;
}

int coop_pretrain_config_check(const struct coop_pretrain_config *c, struct coop_err *e)
{
#define BAD(cond, ...)                                                                            \
    if (cond)                                                                                     \
    return coop_fail(e, COOP_E_INVAL, "pretrain config: " __VA_ARGS__)
    BAD(c->image_size < 8 || c->image_size > 1024, "image_size %d outside 8..1024",
        c->image_size);
    BAD(c->patch_size < 1 || c->image_size % c->patch_size,
        "patch_size %d does not divide image_size %d", c->patch_size, c->image_size);
    BAD(c->vision_width < 64 || c->vision_width % 64,
        "vision_width %d is not a multiple of 64 (CLIP's heads are 64 wide)", c->vision_width);
    BAD(c->text_width < 64 || c->text_width % 64,
        "text_width %d is not a multiple of 64 (CLIP's heads are 64 wide)", c->text_width);
    BAD(c->vision_layers < 1 || c->text_layers < 1, "layer counts must be >= 1");
    BAD(c->context_length < 4 || c->context_length > 77, "context_length %d outside 4..77",
        c->context_length);
    BAD(c->embed_dim < 1, "embed_dim %d < 1", c->embed_dim);
    BAD(c->batch_size < 2, "batch_size %d < 2", c->batch_size);
    BAD(c->steps < 1 || c->warmup < 0, "steps must be >= 1 and warmup >= 0");
    BAD(!(c->lr > 0) || !(c->weight_decay >= 0), "lr must be > 0, weight_decay >= 0");
    BAD(!(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1 && c->eps > 0),
        "betas must lie in [0, 1), eps > 0");
    BAD(!(c->sketch_fraction >= 0 && c->rendition_fraction >= 0 &&
          c->sketch_fraction + c->rendition_fraction <= 1),
        "sketch_fraction + rendition_fraction must lie in [0, 1]");
    BAD(!(c->cooccurrence >= 0 && c->cooccurrence <= 1), "cooccurrence %g outside [0, 1]",
        c->cooccurrence);
    BAD(c->supersample < 1 || c->supersample > 8, "supersample %d outside 1..8", c->supersample);
    BAD(c->bpe_captions < 1 || c->bpe_merges < 1, "bpe_captions and bpe_merges must be >= 1");
    BAD(c->log_every < 1, "log_every must be >= 1");
    BAD(!(c->long_captions >= 0 && c->long_captions <= 1), "long_captions %g outside [0, 1]",
        c->long_captions);
    BAD(!(c->style_words >= 0 && c->style_words <= 1), "style_words %g outside [0, 1]",
        c->style_words);
    BAD(!(c->caption_noise >= 0 && c->caption_noise <= 1), "caption_noise %g outside [0, 1]",
        c->caption_noise);
    BAD(c->decay_embeddings != 0 && c->decay_embeddings != 1, "decay_embeddings must be 0 or 1");
#undef BAD
    return 0;
}
