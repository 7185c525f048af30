/* dstest.h: helpers the dataset tests share: a scratch folder, tiny image
 * files written from C, loading a dataset plugin from the build tree (dlopen
 * through coop_plugin_enum) and opening a dataset by name. Test-only code. */
#ifndef DSTEST_H
#define DSTEST_H

#define _XOPEN_SOURCE 700
#include "coop/data.h"
#include "coop/util.h"
#include <check.h>
#include <dlfcn.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A valid 1x1 gray PNG: the loaders only need files to exist, decoders get a real image. */
static const unsigned char dstest_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
    0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static char dstest_root[512];

static int dstest_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

/* Fresh scratch folder under TMPDIR (or /tmp), removed by dstest_cleanup. */
static inline const char *dstest_mkroot(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dstest_root, sizeof dstest_root, "%s/coopds.XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dstest_root));
    return dstest_root;
}

static inline void dstest_cleanup(void)
{
    if (dstest_root[0])
        nftw(dstest_root, dstest_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    dstest_root[0] = '\0';
}

/* Path under the scratch root (static buffer rotation: up to 4 at once). */
static inline const char *dstest_path(const char *fmt, ...)
{
    static char bufs[4][2048];
    static int which;
    char rel[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    char *b = bufs[which++ & 3];
    snprintf(b, 2048, "%s/%s", dstest_root, rel);
    return b;
}

/* Writes bytes to root/rel, creating folders. */
static inline void dstest_write(const char *rel, const void *data, size_t n)
{
    char path[2048], dir[2048];
    struct coop_err e;
    snprintf(path, sizeof path, "%s/%s", dstest_root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    ck_assert_msg(coop_mkdirs(dir, &e) == 0, "%s", e.msg);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline void dstest_text(const char *rel, const char *text)
{
    dstest_write(rel, text, strlen(text));
}

static inline void dstest_image(const char *rel)
{
    dstest_write(rel, dstest_png, sizeof dstest_png);
}

static inline void dstest_mkdir(const char *rel)
{
    struct coop_err e;
    ck_assert_msg(coop_mkdirs(dstest_path("%s", rel), &e) == 0, "%s", e.msg);
}

/* Finds descriptor `name` through an enum function. */
static inline const struct coop_dataset_ops *dstest_find(coop_plugin_enum_fn fn,
                                                         const char *name)
{
    for (uint32_t i = 0;; i++) {
        const struct coop_plugin *p = fn(i);
        if (!p)
            return NULL;
        ck_assert_uint_eq(p->abi, COOP_PLUGIN_ABI);
        if (p->kind == COOP_PLUGIN_DATASET && strcmp(p->name, name) == 0) {
            const struct coop_dataset_ops *ops = p->ops;
            ck_assert_uint_eq(ops->version, COOP_DATASET_OPS_VERSION);
            return ops;
        }
    }
}

/* dlopens <build>/plugins/datasets/<module>/coop-<module>.so (kept open). */
static inline coop_plugin_enum_fn dstest_dlopen(const char *module)
{
    const char *b = getenv("COOP_BUILD_ROOT");
    ck_assert_msg(b != NULL, "COOP_BUILD_ROOT not set (run through meson test)");
    char path[1024];
    snprintf(path, sizeof path, "%s/plugins/datasets/%s/coop-%s.so", b, module, module);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
    coop_plugin_enum_fn fn;
    *(void **)&fn = dlsym(h, COOP_PLUGIN_ENUM_SYMBOL);
    ck_assert_msg(fn != NULL, "%s: no %s", path, COOP_PLUGIN_ENUM_SYMBOL);
    return fn;
}

/* Opens and returns the rc; on success *ref is usable. */
static inline int dstest_open(const struct coop_dataset_ops *ops, const char *root,
                              const struct coop_params *p, struct coop_dataset_ref *ref,
                              struct coop_err *e)
{
    ref->ops = ops;
    ref->ds = NULL;
    e->msg[0] = '\0';
    return ops->open(NULL, root, p, &ref->ds, e);
}

/* Asserts that e->msg contains every given fragment (NULL-terminated list). */
static inline void dstest_msg_has(const struct coop_err *e, ...)
{
    va_list ap;
    va_start(ap, e);
    for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
        ck_assert_msg(strstr(e->msg, frag) != NULL, "message \"%s\" lacks \"%s\"", e->msg, frag);
    va_end(ap);
}

#endif
