/* bench_report.c: benchmark (not a test): writes a synthetic full few-shot
 * sweep (11 datasets x 5 shots x 3 seeds x {end, middle} x {unified, CSC} =
 * 660 trials, each with every dataset of the schema) into the folder given as
 * argument, then times coop_report_generate on it. Prints figures; no
 * assertions. Usage: bench_report <empty folder>. */
#include "coop/results.h"
#include "coop/report.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_report <empty folder>\n");
        return 2;
    }
    const char *dir = argv[1];
    struct coop_err e;
    int K = 100, M = 16, D = 512, E = 200;
    float *pca = calloc(K, 4), *ctx = calloc((size_t)M * D, 4), *nd = calloc(M * 5, 4);
    int32_t *conf = calloc((size_t)K * K, 4), *ep = calloc(E, 4), *lab = calloc(1600, 4);
    double *loss = calloc(E, 8), *acc = calloc(E, 8), *lr = calloc(E, 8);
    char **names = calloc(K, sizeof *names), **items = calloc(1600, sizeof *items), **nw = calloc(M * 5, sizeof *nw);
    for (int i = 0; i < K; i++) names[i] = coop_asprintf("class_%d", i);
    for (int i = 0; i < 1600; i++) items[i] = coop_asprintf("folder/img_%05d.jpg", i);
    for (int i = 0; i < M * 5; i++) nw[i] = coop_strdup("word");
    const char *pos[2] = {"end", "middle"}, *csc[2] = {"false", "true"};
    int shots[5] = {1, 2, 4, 8, 16}, n = 0;
    double t0 = coop_now();
    for (int d = 0; d < 11; d++) for (int s = 0; s < 5; s++) for (int seed = 1; seed <= 3; seed++)
    for (int p = 0; p < 2; p++) for (int c = 0; c < 2; c++) {
        struct coop_results_writer *w;
        char id[64], b[32];
        snprintf(id, sizeof id, "t%04d", n++);
        if (coop_results_begin(dir, id, true, &w, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        snprintf(b, sizeof b, "ds%02d", d); coop_results_axis(w, "dataset", b, &e);
        coop_results_axis(w, "method", "coop", &e);
        snprintf(b, sizeof b, "%d", shots[s]); coop_results_axis(w, "shots", b, &e);
        snprintf(b, sizeof b, "%d", seed); coop_results_axis(w, "seed", b, &e);
        coop_results_axis(w, "n_ctx", "16", &e); coop_results_axis(w, "position", pos[p], &e);
        coop_results_axis(w, "csc", csc[c], &e); coop_results_axis(w, "backbone", "rn50", &e);
        coop_results_attr_str(w, "config", "a: 1\nb: 2\n", &e);
        struct coop_results_eval ev = {"test", 50 + d + s + seed * 0.3, 40, K, pca, conf, (const char *const *)names, 2000};
        coop_results_write_eval(w, &ev, &e);
        coop_results_write_curve(w, ep, loss, acc, lr, E, &e);
        size_t ni = (size_t)shots[s] * K, mdim[2] = {M, D}, mk[2] = {M, 5};
        coop_results_write_strings(w, "fewshot/train_items", (const char *const *)items, 1, &ni, &e);
        coop_results_write_i32(w, "fewshot/train_labels", lab, 1, &ni, &e);
        coop_results_write_f32(w, "params/ctx", ctx, 2, mdim, &e);
        coop_results_write_strings(w, "interpret/nearest_words", (const char *const *)nw, 2, mk, &e);
        coop_results_write_f32(w, "interpret/nearest_distances", nd, 2, mk, &e);
        if (coop_results_commit(w, "completed", NULL, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    }
    double t1 = coop_now();
    printf("wrote %d trial files (K=%d, ctx %dx%d, %d epochs): %.2f s, %.1f ms/trial\n", n, K, M, D, E, t1 - t0, 1000 * (t1 - t0) / n);
    struct coop_report_options opt = {dir, NULL, true};
    struct coop_report_output out;
    t0 = coop_now();
    if (coop_report_generate(&opt, &out, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    t1 = coop_now();
    printf("coop_report_generate on %zu trials: %.2f s\n", out.n_files, t1 - t0);
    coop_report_output_free(&out);
    for (int i = 0; i < K; i++) free(names[i]);
    for (int i = 0; i < 1600; i++) free(items[i]);
    for (int i = 0; i < M * 5; i++) free(nw[i]);
    free(names), free(items), free(nw), free(pca), free(ctx), free(nd), free(conf), free(ep);
    free(lab), free(loss), free(acc), free(lr);
    return 0;
}
