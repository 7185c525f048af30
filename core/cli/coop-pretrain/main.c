/* coop-pretrain: contrastive pretraining of a small CLIP on the synthetic
 * world (learns the BPE vocabulary, trains, writes the checkpoint), and
 * --eval: zero-shot vs nearest-class-mean few-shot accuracy per world task
 * plus the text tower's forward+backward time. See docs/pretraining.md. */
#include "coop/checkpoint.h"
#include "coop/cpu.h"
#include "coop/pretrain.h"
#include "coop/util.h"
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coop-pretrain --out DIR [--config FILE] [--set KEY=VALUE]... [--vocab FILE]\n"
            "       coop-pretrain --eval CHECKPOINT [--vocab FILE] [--shots N] [--task NAME]...\n"
            "Train: learns DIR/bpe_world.txt.gz from world captions (unless --vocab is given),\n"
            "trains and writes DIR/world-clip.safetensors, DIR/config.txt, DIR/train-log.tsv.\n"
            "Eval: zero-shot and N-shot nearest-class-mean test accuracy per world task\n"
            "(default every task, 4 shots) and the text forward+backward time for 50 prompts.\n"
            "  --threads N  OpenMP and OpenBLAS threads (default: OMP_NUM_THREADS, else one\n"
            "               per CPU)\n"
            "  --version, --help\n"
            "Example:\n"
            "  coop-pretrain --out /tmp/world-clip && coop-pretrain --eval "
            "/tmp/world-clip/world-clip.safetensors\n"
            "Exit status: 0 done, 1 training or evaluation failed, 2 usage or input error\n"
            "(bad option, a configuration or --set that does not load or check, a checkpoint\n"
            "to evaluate that does not load).\n");
}

struct logctx {
    FILE *tsv;
};

static int on_progress(void *ud, const struct coop_pretrain_progress *p)
{
    struct logctx *l = ud;
    printf("step %6ld/%ld  loss %.4f  lr %.2e  logit_scale %.3f (x%.1f)  %.0fs (data %.0fs)\n",
           p->step, p->steps, p->loss, p->lr, p->logit_scale, exp(p->logit_scale), p->seconds,
           p->data_seconds);
    fflush(stdout);
    if (l->tsv) {
        fprintf(l->tsv, "%ld\t%.6f\t%.6g\t%.5f\t%.1f\n", p->step, p->loss, p->lr, p->logit_scale,
                p->seconds);
        fflush(l->tsv);
    }
    return 0;
}

static int train(const char *out, const char *config, char **sets, int nsets, const char *vocab)
{
    struct coop_err e = {{0}};
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    int rc = config ? coop_pretrain_config_load(&c, config, &e) : 0;
    for (int i = 0; rc == 0 && i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            rc = coop_fail(&e, COOP_E_INVAL, "--set %s: expected KEY=VALUE", sets[i]);
            break;
        }
        *eq = '\0';
        rc = coop_pretrain_config_set(&c, sets[i], eq + 1, &e);
    }
    rc = rc ? rc : coop_pretrain_config_check(&c, &e);
    if (rc) { /* the configuration is input: nothing was written */
        fprintf(stderr, "coop-pretrain: %s\n", e.msg);
        return 2;
    }
    rc = coop_mkdirs(out, &e);
    char *vpath = vocab ? coop_strdup(vocab) : coop_asprintf("%s/bpe_world.txt.gz", out);
    char *ckpt = coop_asprintf("%s/world-clip.safetensors", out);
    char *cfg = coop_asprintf("%s/config.txt", out), *logp = coop_asprintf("%s/train-log.tsv", out);
    char *dump = coop_pretrain_config_dump(&c);
    if (rc == 0 && (!vpath || !ckpt || !cfg || !logp || !dump))
        rc = coop_fail(&e, COOP_E_NOMEM, "out of memory");
    if (rc == 0) {
        FILE *f = fopen(cfg, "w");
        if (!f || fputs(dump, f) < 0)
            rc = coop_fail(&e, COOP_E_IO, "%s: cannot write", cfg);
        if (f)
            fclose(f);
    }
    double t0 = coop_now();
    if (rc == 0 && !vocab) {
        rc = coop_pretrain_vocab(&c, vpath, &e);
        if (rc == 0)
            printf("vocabulary: %s (%.1fs)\n", vpath, coop_now() - t0);
    }
    struct coop_tokenizer *tok = NULL;
    rc = rc ? rc : coop_tokenizer_load(&tok, vpath, &e);
    if (rc == 0) {
        printf("vocabulary size %d; training %ld steps of %d pairs\n",
               coop_tokenizer_vocab_size(tok), c.steps, c.batch_size);
        struct logctx l = {fopen(logp, "w")};
        if (l.tsv)
            fprintf(l.tsv, "step\tloss\tlr\tlogit_scale\tseconds\n");
        double fl;
        rc = coop_pretrain_run(&c, tok, ckpt, on_progress, &l, &fl, &e);
        if (l.tsv)
            fclose(l.tsv);
        if (rc == 0) {
            char sha[65];
            rc = coop_sha256_file(ckpt, sha, &e);
            if (rc == 0)
                printf("wrote %s (final loss %.4f, %.1fs total)\nsha256 %s\n", ckpt, fl,
                       coop_now() - t0, sha);
        }
    }
    coop_tokenizer_free(tok);
    free(vpath);
    free(ckpt);
    free(cfg);
    free(logp);
    free(dump);
    if (rc)
        fprintf(stderr, "coop-pretrain: %s\n", e.msg);
    return rc ? 1 : 0;
}

static int eval(const char *ckpt, const char *vocab, int shots, char **tasks, int ntasks)
{
    struct coop_err e = {{0}};
    struct coop_clip_model m;
    struct coop_tokenizer *tok = NULL;
    int rc = coop_clip_model_load(&m, ckpt, &e);
    if (rc) {
        fprintf(stderr, "coop-pretrain: %s\n", e.msg);
        return 2;
    }
    if (vocab) {
        rc = coop_tokenizer_load(&tok, vocab, &e);
    } else {
        const char *sl = strrchr(ckpt, '/');
        char *p = coop_asprintf("%.*sbpe_world.txt.gz", sl ? (int)(sl - ckpt + 1) : 0, ckpt);
        rc = p && coop_file_exists(p) ? coop_tokenizer_load(&tok, p, &e)
                                      : coop_tokenizer_find_near(&tok, ckpt, &e);
        free(p);
    }
    if (rc == 0) {
        printf("model %s: text %d layers width %d context %d vocab %d; vision %d px patch %d "
               "width %d layers %d; embed %d; logit scale %.2f\n",
               m.arch, m.text.layers, m.text.width, m.text.context_length, m.text.vocab_size,
               m.vit.image_size, m.vit.patch_size, m.vit.width, m.vit.layers, m.text.embed_dim,
               exp(m.logit_scale));
        printf("%-22s %7s %7s %9s %9s %9s\n", "task", "classes", "test", "chance", "zeroshot",
               "ncm");
    }
    struct coop_world_config wc;
    coop_world_config_default(&wc);
    wc.image_size = m.vit.image_size;
    double t0 = coop_now();
    for (size_t i = 0; rc == 0; i++) {
        const struct coop_world_task *t = coop_world_task_at(i);
        if (!t)
            break;
        bool want = ntasks == 0;
        for (int k = 0; k < ntasks; k++)
            want = want || strcmp(tasks[k], coop_world_task_name(t)) == 0;
        if (!want)
            continue;
        struct coop_pretrain_eval r;
        rc = coop_pretrain_evaluate(&r, &m, tok, t, &wc, shots, &e);
        if (rc == 0)
            printf("%-22s %7d %7zu %8.1f%% %8.1f%% %8.1f%%\n", coop_world_task_name(t),
                   r.num_classes, r.n_test, 100.0 / r.num_classes, 100 * r.zeroshot, 100 * r.ncm);
        fflush(stdout);
    }
    if (rc == 0)
        printf("(zeroshot: the task's template; ncm: %d-shot nearest class mean; %.1fs)\n", shots,
               coop_now() - t0);
    /* CoOp's prompts: SOS, 16 context vectors, a class name, ".", EOT */
    double ms1, ms2;
    int eotpos = m.text.context_length - 1 < 20 ? m.text.context_length - 1 : 20;
    int prefix = eotpos - 3 > 0 ? eotpos - 3 : 0;
    rc = rc ? rc : coop_pretrain_time_text(&m.text, 50, eotpos, 0, &ms1, &e);
    rc = rc ? rc : coop_pretrain_time_text(&m.text, 50, eotpos, prefix, &ms2, &e);
    if (rc == 0)
        printf("text forward+backward (input gradients), 50 prompts of %d tokens: %.2f ms "
               "(%.2f ms with a shared %d-token prefix)\n", eotpos + 1, ms1, ms2, prefix);
    if (rc)
        fprintf(stderr, "coop-pretrain: %s\n", e.msg);
    coop_tokenizer_free(tok);
    coop_clip_model_free(&m);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    char blas[512]; /* first: may re-execute with the right OpenBLAS kernels */
    coop_blas_select_core(argv, blas, sizeof blas);
    if (coop_verbose())
        fprintf(stderr, "coop-pretrain: %s\n", blas);
    const char *out = NULL, *config = NULL, *vocab = NULL, *ckpt = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets), **tasks = calloc((size_t)argc, sizeof *tasks);
    int nsets = 0, ntasks = 0, shots = 4;
    if (!sets || !tasks)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free(sets);
            free(tasks);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("coop-pretrain %s\n", coop_version_string());
            free(sets);
            free(tasks);
            return 0;
        } else if (strcmp(a, "--out") == 0 && has) {
            out = argv[++i];
        } else if (strcmp(a, "--config") == 0 && has) {
            config = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has) {
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "--vocab") == 0 && has) {
            vocab = argv[++i];
        } else if (strcmp(a, "--eval") == 0 && has) {
            ckpt = argv[++i];
        } else if (strcmp(a, "--task") == 0 && has) {
            tasks[ntasks++] = argv[++i];
        } else if (strcmp(a, "--shots") == 0 && has) {
            shots = atoi(argv[++i]);
        } else if (strcmp(a, "--threads") == 0 && has) {
            int t;
            if (coop_threads_parse("coop-pretrain", argv[++i], &t)) {
                free(sets);
                free(tasks);
                return 2;
            }
            coop_threads_set(t);
        } else {
            fprintf(stderr, "coop-pretrain: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            free(sets);
            free(tasks);
            return 2;
        }
    }
    int rc;
    if (ckpt)
        rc = eval(ckpt, vocab, shots, tasks, ntasks);
    else if (out)
        rc = train(out, config, sets, nsets, vocab);
    else {
        usage(stderr);
        rc = 2;
    }
    free(sets);
    free(tasks);
    return rc;
}
