/* zeroshot.c: the text-based baselines of the CoOp paper, as one plugin with
 * two descriptors:
 *  - "zeroshot": zero-shot CLIP with one hand-crafted template (the dataset's
 *    own by default, e.g. "a photo of a {}, a type of pet.");
 *  - "ensemble": prompt ensembling, the average of the L2-normalised text
 *    features over several templates, re-normalised (CoOp's reference uses
 *    the 7 templates below plus the dataset's own; a dataset that has its
 *    own ensemble list, as CLIP gives each dataset one, is averaged over
 *    that list instead unless template_set says coop7).
 * Both need no training data; they rebuild for any class list (targets). */
#include "coop/nn.h"
#include "coop/plugin.h"
#include "coop/util.h"
#include <stdlib.h>
#include <string.h>

static const char *const coop_imagenet7[] = {
    "itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
    "a {} in a video game.", "art of the {}.", "a photo of the small {}.", NULL};

struct coop_baseline {
    struct coop_backbone_ref bb;
    int K, E, L;
    float scale;
    bool ensemble;
    char *templates; /* user templates, ';'-separated, or NULL */
    char **listed;   /* the source dataset's ensemble list (NULL-terminated), or NULL */
    float *text;     /* [K, E] normalised */
};

static const struct coop_param_spec zs_params[] = {
    {"template", COOP_PARAM_STRING, "", 0, 0, NULL,
     "template with {} for the class name; empty = the dataset's hand-crafted one"},
    COOP_PARAM_END};
static const char *const template_sets[] = {"dataset", "coop7", NULL};
static const struct coop_param_spec ens_params[] = {
    {"templates", COOP_PARAM_STRING, "", 0, 0, NULL,
     "';'-separated templates with {}; empty = template_set's"},
    {"template_set", COOP_PARAM_CHOICE, "dataset", 0, 0, template_sets,
     "without templates: dataset = the dataset's own ensemble list where it has one, else "
     "coop7 = CoOp's 7 ImageNet templates + the dataset's template"},
    COOP_PARAM_END};

/* Fills with the template, each "{}" replaced by name (underscores -> spaces). */
static char *fill(const char *tpl, const char *classname)
{
    char *name = coop_strdup(classname);
    for (char *c = name; c && *c; c++)
        if (*c == '_')
            *c = ' ';
    size_t cap = strlen(tpl) + 8 * (strlen(name) + 1) + 1;
    char *out = calloc(cap, 1);
    const char *p = tpl;
    while (out && *p) {
        const char *hole = strstr(p, "{}");
        if (!hole) {
            strcat(out, p);
            break;
        }
        strncat(out, p, (size_t)(hole - p));
        if (strlen(out) + strlen(name) + strlen(hole) >= cap)
            break;
        strcat(out, name);
        p = hole + 2;
    }
    free(name);
    return out;
}

/* acc [K, E] += normalised text features of tpl over the classes. */
static int add_template(struct coop_baseline *b, const char *tpl, const char *const *names,
                        float *acc, struct coop_err *e)
{
    if (!strstr(tpl, "{}"))
        return coop_fail(e, COOP_E_INVAL, "template \"%s\" has no {} for the class name", tpl);
    const struct coop_backbone_ops *ops = b->bb.ops;
    struct coop_backbone_info info;
    ops->info(b->bb.bb, &info);
    const size_t row = (size_t)b->L * info.token_width;
    int32_t *ids = calloc((size_t)b->L, sizeof *ids);
    int *eot = calloc((size_t)b->K, sizeof *eot);
    float *emb = coop_alloc_floats((size_t)b->K * row), *feat = coop_alloc_floats((size_t)b->K *
                                                                                b->E);
    int rc = 0;
    if (!ids || !eot || !emb || !feat)
        rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
    for (int k = 0; rc == 0 && k < b->K; k++) {
        char *text = fill(tpl, names[k]);
        if (!text)
            rc = coop_fail(e, COOP_E_NOMEM, "out of memory");
        else if ((rc = ops->tokenize(b->bb.bb, text, true, ids, &eot[k], e)) == 0)
            rc = ops->token_embed(b->bb.bb, ids, b->L, emb + (size_t)k * row, e);
        free(text);
    }
    if (rc == 0)
        rc = ops->text_forward(b->bb.bb, emb, eot, b->K, 0, feat, NULL, e);
    if (rc == 0) {
        coop_l2norm_forward(feat, NULL, feat, b->K, b->E);
        for (size_t i = 0; i < (size_t)b->K * b->E; i++)
            acc[i] += feat[i];
    }
    free(ids);
    free(eot);
    coop_free(emb);
    coop_free(feat);
    return rc;
}

static int build_text(struct coop_baseline *b, const char *const *names, int K,
                      const char *dataset_template, struct coop_err *e)
{
    float *acc = coop_alloc_floats((size_t)K * b->E);
    if (!acc)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    b->K = K;
    const char *dt = dataset_template && *dataset_template ? dataset_template : "a photo of a {}.";
    int rc = 0;
    if (!b->ensemble) {
        rc = add_template(b, b->templates && *b->templates ? b->templates : dt, names, acc, e);
    } else if (b->templates && *b->templates) {
        char *copy = coop_strdup(b->templates), *save = NULL;
        for (char *t = strtok_r(copy, ";", &save); t && rc == 0; t = strtok_r(NULL, ";", &save)) {
            while (*t == ' ')
                t++;
            rc = add_template(b, t, names, acc, e);
        }
        free(copy);
    } else if (b->listed) {
        for (int i = 0; b->listed[i] && rc == 0; i++)
            rc = add_template(b, b->listed[i], names, acc, e);
    } else {
        for (int i = 0; coop_imagenet7[i] && rc == 0; i++)
            rc = add_template(b, coop_imagenet7[i], names, acc, e);
        if (rc == 0)
            rc = add_template(b, dt, names, acc, e);
    }
    if (rc) {
        coop_free(acc);
        return rc;
    }
    coop_l2norm_forward(acc, NULL, acc, K, b->E); /* mean then re-normalise == sum normalised */
    coop_free(b->text);
    b->text = acc;
    return 0;
}

static void destroy(struct coop_baseline *b)
{
    if (!b)
        return;
    free(b->templates);
    for (int i = 0; b->listed && b->listed[i]; i++)
        free(b->listed[i]);
    free(b->listed);
    coop_free(b->text);
    free(b);
}

/* b->listed = a copy of the dataset's ensemble list (targets keep the
 * source's list, as the reference keeps ImageNet's templates for its
 * variants). */
static int keep_list(struct coop_baseline *b, const char *const *list, struct coop_err *e)
{
    size_t n = 0;
    while (list[n])
        n++;
    if (n == 0)
        return 0;
    b->listed = calloc(n + 1, sizeof *b->listed);
    for (size_t i = 0; b->listed && i < n; i++)
        if (!(b->listed[i] = coop_strdup(list[i])))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
    return b->listed ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

static int fit_common(const struct coop_baseline_args *a, bool ensemble,
                      struct coop_baseline **out, struct coop_err *e)
{
    struct coop_backbone_info info;
    a->backbone.ops->info(a->backbone.bb, &info);
    struct coop_baseline *b = calloc(1, sizeof *b);
    if (!b)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    b->bb = a->backbone;
    b->E = info.embed_dim;
    b->L = info.context_length;
    b->scale = info.logit_scale;
    b->ensemble = ensemble;
    b->templates = coop_strdup(coop_params_str(a->params, ensemble ? "templates" : "template", ""));
    int rc = 0;
    if (ensemble && a->ensemble_templates &&
        strcmp(coop_params_str(a->params, "template_set", "dataset"), "dataset") == 0)
        rc = keep_list(b, a->ensemble_templates, e);
    if (rc == 0)
        rc = build_text(b, a->classnames, a->num_classes, a->template_text, e);
    if (rc) {
        destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}
static int fit_zs(const struct coop_baseline_args *a, struct coop_baseline **o, struct coop_err *e)
{
    return fit_common(a, false, o, e);
}
static int fit_ens(const struct coop_baseline_args *a, struct coop_baseline **o,
                   struct coop_err *e)
{
    return fit_common(a, true, o, e);
}

static int logits(struct coop_baseline *b, const float *x, size_t n, float *out,
                  struct coop_err *e)
{
    float *xn = coop_alloc_floats(n * (size_t)b->E);
    if (!xn)
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    coop_l2norm_forward(xn, NULL, x, (int)n, b->E);
    coop_cosine_logits(out, xn, b->text, (int)n, b->K, b->E, b->scale);
    coop_free(xn);
    return 0;
}

static int set_classes(struct coop_baseline *b, const char *const *names, int K,
                       const char *tpl, struct coop_err *e)
{
    return build_text(b, names, K, tpl, e);
}

static int describe(const struct coop_baseline *b, char *buf, size_t len)
{
    if (!b->ensemble) {
        snprintf(buf, len, "zero-shot over %d classes", b->K);
        return 0;
    }
    int n = 0;
    if (b->templates && *b->templates) {
        n = 1;
        for (const char *c = b->templates; *c; c++)
            n += *c == ';';
    } else if (b->listed) {
        while (b->listed[n])
            n++;
    } else {
        n = (int)(sizeof coop_imagenet7 / sizeof coop_imagenet7[0]); /* 7 + the dataset's */
    }
    snprintf(buf, len, "prompt ensemble of %d templates (%s) over %d classes", n,
             b->templates && *b->templates ? "user's"
             : b->listed                   ? "the dataset's list"
                                           : "CoOp's 7 ImageNet templates + the dataset's",
             b->K);
    return 0;
}

static const struct coop_baseline_ops zs_ops = {
    .version = COOP_BASELINE_OPS_VERSION, .params = zs_params, .needs_training_data = false,
    .fit = fit_zs, .logits = logits, .set_classes = set_classes, .destroy = destroy,
    .describe = describe};
static const struct coop_baseline_ops ens_ops = {
    .version = COOP_BASELINE_OPS_VERSION, .params = ens_params, .needs_training_data = false,
    .fit = fit_ens, .logits = logits, .set_classes = set_classes, .destroy = destroy,
    .describe = describe};

static const struct coop_plugin plugins[] = {
    {COOP_PLUGIN_ABI, COOP_PLUGIN_BASELINE, "zeroshot", "1.0.0",
     "zero-shot CLIP with the dataset's hand-crafted template", &zs_ops},
    {COOP_PLUGIN_ABI, COOP_PLUGIN_BASELINE, "ensemble", "1.1.0",
     "prompt ensembling over templates (the dataset's list, or CoOp's 7 + its template)",
     &ens_ops},
};

__attribute__((visibility("default"))) const struct coop_plugin *coop_plugin_enum(uint32_t i)
{
    return i < 2 ? &plugins[i] : NULL;
}
