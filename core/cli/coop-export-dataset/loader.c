/* loader.c: scans plugin folders for shared objects exporting
 * coop_plugin_enum, checks the ABI version before anything else, and
 * returns the dataset descriptor with the requested name. */
#define _GNU_SOURCE
#include "loader.h"
#include "coop_config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*visit_fn)(void *ctx, void *handle, const char *file, const struct coop_plugin *d);

/* Calls visit for each descriptor of the module; returns 1 if visit kept the handle. */
static int scan_file(const char *file, visit_fn visit, void *ctx, struct coop_err *e)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0; /* not loadable: not a plugin of ours, skipped */
    union { void *p; coop_plugin_enum_fn f; } sym; /* ISO C has no object->function cast */
    sym.p = dlsym(h, COOP_PLUGIN_ENUM_SYMBOL);
    coop_plugin_enum_fn fn = sym.f;
    int kept = 0;
    for (uint32_t i = 0; fn && !kept; i++) {
        const struct coop_plugin *d = fn(i);
        if (!d)
            break;
        kept = visit(ctx, h, file, d);
        if (kept < 0) {
            dlclose(h);
            return -1;
        }
    }
    if (!kept)
        dlclose(h);
    return kept;
}

/* Plugins in a folder and its subfolders (the build tree keeps each module
 * in plugins/<kind>/<name>/), up to depth levels down. */
static int scan_dir_depth(const char *dir, visit_fn visit, void *ctx, int depth,
                          struct coop_err *e)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        char file[1024];
        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
        if (n >= 4 && strcmp(de->d_name + n - 3, ".so") == 0)
            rc = scan_file(file, visit, ctx, e);
        else if (depth > 0 && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
            rc = scan_dir_depth(file, visit, ctx, depth - 1, e);
    }
    closedir(dp);
    return rc;
}

static int scan_dir(const char *dir, visit_fn visit, void *ctx, struct coop_err *e)
{
    return scan_dir_depth(dir, visit, ctx, 3, e);
}

static int scan_all(const char *const *extra, int n_extra, visit_fn visit, void *ctx,
                    struct coop_err *e)
{
    int rc = 0;
    for (int i = 0; !rc && i < n_extra; i++)
        rc = scan_dir(extra[i], visit, ctx, e);
    const char *env = getenv("COOP_PLUGIN_PATH");
    if (!rc && env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); !rc && d; d = strtok_r(NULL, ":", &save))
            rc = scan_dir(d, visit, ctx, e);
        free(copy);
    }
    if (!rc)
        rc = scan_dir(COOP_BUILD_PLUGINDIR, visit, ctx, e);
    if (!rc)
        rc = scan_dir(COOP_PLUGINDIR, visit, ctx, e);
    return rc;
}

struct find_ctx {
    const char *name;
    struct found_plugin *out;
    struct coop_err *e;
};

static int visit_find(void *vctx, void *h, const char *file, const struct coop_plugin *d)
{
    struct find_ctx *c = vctx;
    if (!d->name || strcmp(d->name, c->name) != 0)
        return 0;
    if (d->abi != COOP_PLUGIN_ABI) {
        coop_fail(c->e, COOP_E_ABI, "%s: plugin %s built for ABI %u, this tool uses ABI %d", file,
                  d->name, d->abi, COOP_PLUGIN_ABI);
        return -1;
    }
    if (d->kind != COOP_PLUGIN_DATASET)
        return 0;
    c->out->handle = h;
    c->out->desc = d;
    snprintf(c->out->file, sizeof c->out->file, "%s", file);
    return 1;
}

int loader_find_dataset(struct found_plugin *out, const char *name, const char *const *extra,
                        int n_extra, struct coop_err *e)
{
    memset(out, 0, sizeof *out);
    struct find_ctx c = {name, out, e};
    const char *colon = strrchr(name, ':');
    int rc;
    if (colon && strchr(name, '/')) { /* "path/to/module.so:name" */
        char file[1024];
        snprintf(file, sizeof file, "%.*s", (int)(colon - name), name);
        c.name = colon + 1;
        void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return coop_fail(e, COOP_E_NOTFOUND, "%s: cannot load: %s", file, dlerror());
        rc = scan_file(file, visit_find, &c, e);
        dlclose(h);
    } else
        rc = scan_all(extra, n_extra, visit_find, &c, e);
    if (rc < 0)
        return COOP_E_ABI;
    if (rc == 0)
        return coop_fail(e, COOP_E_NOTFOUND,
                         "dataset plugin %s not found (searched --plugin-path, COOP_PLUGIN_PATH, "
                         "%s, %s)", c.name, COOP_BUILD_PLUGINDIR, COOP_PLUGINDIR);
    return COOP_OK;
}

static int visit_list(void *ctx, void *h, const char *file, const struct coop_plugin *d)
{
    (void)ctx;
    (void)h;
    if (d->abi == COOP_PLUGIN_ABI && d->kind == COOP_PLUGIN_DATASET)
        printf("%-24s %-6s %s\n    %s\n", d->name, d->version ? d->version : "?", file,
               d->summary ? d->summary : "");
    return 0;
}

int loader_list_datasets(const char *const *extra, int n_extra, struct coop_err *e)
{
    return scan_all(extra, n_extra, visit_list, NULL, e) < 0 ? COOP_E_ABI : COOP_OK;
}

void dlclose_plugin(struct found_plugin *p)
{
    if (p->handle)
        dlclose(p->handle);
    p->handle = NULL;
}
