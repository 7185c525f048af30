/* loader.c: finds plugin shared objects, dlopens them (RTLD_NOW | RTLD_LOCAL),
 * validates descriptors and keeps a name -> descriptor registry. It never
 * aborts on a bad file: failures are recorded with the file name and reason. */
#include "coop/loader.h"
#include "coop/util.h"
#include "coop_config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
    const struct coop_plugin *desc;
    size_t module; /* index into modules */
};

struct coop_registry {
    struct entry *entries;
    size_t n, cap;
    void **modules;
    char **module_paths;
    size_t n_modules, cap_modules, cap_paths;
    char **problems;
    struct rejected *rejected; /* parallel to problems */
    size_t n_problems, cap_problems, cap_rejected;
};

/* What a load problem is about, so a request for a plugin can be answered
 * with the file that would have provided it. */
struct rejected {
    char *path;
    char *name; /* the descriptor's name where one was read, else NULL */
    bool shadowed;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* Records msg (taken over) about the file path; name: the descriptor's, if read. */
static void add_problem(struct coop_registry *r, const char *path, const char *name,
                        bool shadowed, char *msg)
{
    if (!msg)
        return;
    if (grow((void **)&r->problems, &r->cap_problems, r->n_problems + 1, sizeof(char *)) ||
        grow((void **)&r->rejected, &r->cap_rejected, r->n_problems + 1, sizeof *r->rejected)) {
        free(msg);
        return;
    }
    r->rejected[r->n_problems] =
        (struct rejected){coop_strdup(path), name ? coop_strdup(name) : NULL, shadowed};
    r->problems[r->n_problems++] = msg;
}

const char *coop_plugin_kind_name(enum coop_plugin_kind kind)
{
    switch (kind) {
    case COOP_PLUGIN_BACKBONE: return "backbone";
    case COOP_PLUGIN_DATASET: return "dataset";
    case COOP_PLUGIN_PROMPT: return "prompt";
    case COOP_PLUGIN_BASELINE: return "baseline";
    default: return "unknown";
    }
}

int coop_registry_create(struct coop_registry **out, struct coop_err *e)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : coop_fail(e, COOP_E_NOMEM, "out of memory");
}

void coop_registry_free(struct coop_registry *r)
{
    if (!r)
        return;
    /* Modules stay mapped until the process exits: strings and tables a plugin
     * handed out may outlive the registry, and libraries a plugin pulled in keep
     * state from their constructors (unloading them leaks it, per valgrind). */
    for (size_t i = 0; i < r->n_modules; i++)
        free(r->module_paths[i]);
    for (size_t i = 0; i < r->n_problems; i++) {
        free(r->problems[i]);
        free(r->rejected[i].path);
        free(r->rejected[i].name);
    }
    free(r->modules);
    free(r->module_paths);
    free(r->problems);
    free(r->rejected);
    free(r->entries);
    free(r);
}

static const struct coop_plugin *lookup(const struct coop_registry *r, enum coop_plugin_kind kind,
                                        const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if ((kind == 0 || r->entries[i].desc->kind == kind) &&
            strcmp(r->entries[i].desc->name, name) == 0)
            return r->entries[i].desc;
    return NULL;
}

/* Same major, and not newer than this host (plugin.h's version rules). */
static char *check_abi(const struct coop_plugin *d, uint32_t index)
{
    uint32_t major = COOP_PLUGIN_ABI_MAJOR_OF(d->abi), minor = COOP_PLUGIN_ABI_MINOR_OF(d->abi);
    const char *name = d->name ? d->name : "?";
    if (major != COOP_PLUGIN_ABI_MAJOR)
        return coop_asprintf("descriptor %u ('%s') was built against plugin ABI %u.%u, this coop "
                             "has ABI %u.%u: rebuild the plugin against this coop",
                             index, name, major, minor, COOP_PLUGIN_ABI_MAJOR,
                             COOP_PLUGIN_ABI_MINOR);
    if (minor > COOP_PLUGIN_ABI_MINOR)
        return coop_asprintf("descriptor %u ('%s') was built against plugin ABI %u.%u, newer "
                             "than this coop's %u.%u: it needs a coop of ABI %u.%u or later",
                             index, name, major, minor, COOP_PLUGIN_ABI_MAJOR,
                             COOP_PLUGIN_ABI_MINOR, major, minor);
    return NULL;
}

/* Oldest ops table version this host drives, by kind: every member of these
 * versions that is not optional in plugin.h is required. */
static const uint32_t min_ops_version[] = {
    [COOP_PLUGIN_BACKBONE] = 1, [COOP_PLUGIN_DATASET] = 1,
    [COOP_PLUGIN_PROMPT] = 1, [COOP_PLUGIN_BASELINE] = 1};

/* The first required member a table leaves NULL, or NULL. */
struct member {
    const char *name;
    bool set;
};
#define MEMBER(o, m) {#m, (o)->m != NULL}
static const char *first_missing(const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!m[i].set)
            return m[i].name;
    return NULL;
}
static const char *missing_backbone(const struct coop_backbone_ops *o)
{
    const struct member m[] = {MEMBER(o, open), MEMBER(o, close), MEMBER(o, info),
                               MEMBER(o, tokenize), MEMBER(o, token_count),
                               MEMBER(o, token_embed), MEMBER(o, encode_images),
                               MEMBER(o, text_forward), MEMBER(o, text_backward),
                               MEMBER(o, tape_free)};
    return first_missing(m, sizeof m / sizeof *m);
}
static const char *missing_dataset(const struct coop_dataset_ops *o)
{
    /* read_pixels is optional; pixels it returns go back through free_pixels */
    const struct member m[] = {MEMBER(o, open), MEMBER(o, close), MEMBER(o, num_classes),
                               MEMBER(o, class_name), MEMBER(o, split_size),
                               MEMBER(o, get_item),
                               {"free_pixels", !o->read_pixels || o->free_pixels}};
    return first_missing(m, sizeof m / sizeof *m);
}
static const char *missing_prompt(const struct coop_prompt_ops *o)
{
    const struct member m[] = {MEMBER(o, create), MEMBER(o, destroy), MEMBER(o, num_params),
                               MEMBER(o, param_data), MEMBER(o, param_shape),
                               MEMBER(o, set_classes), MEMBER(o, build), MEMBER(o, backward)};
    return first_missing(m, sizeof m / sizeof *m);
}
static const char *missing_baseline(const struct coop_baseline_ops *o)
{
    const struct member m[] = {MEMBER(o, fit), MEMBER(o, logits), MEMBER(o, destroy)};
    return first_missing(m, sizeof m / sizeof *m);
}
static const char *missing_member(enum coop_plugin_kind kind, const void *ops)
{
    switch (kind) {
    case COOP_PLUGIN_BACKBONE: return missing_backbone(ops);
    case COOP_PLUGIN_DATASET: return missing_dataset(ops);
    case COOP_PLUGIN_PROMPT: return missing_prompt(ops);
    default: return missing_baseline(ops);
    }
}

/* Checks one descriptor; returns NULL if fine, else a malloc'd reason. */
static char *validate(const struct coop_plugin *d, uint32_t index)
{
    char *why = check_abi(d, index);
    if (why)
        return why;
    if (!d->name || !*d->name)
        return coop_asprintf("descriptor %u has no name", index);
    if (d->kind < COOP_PLUGIN_BACKBONE || d->kind > COOP_PLUGIN_BASELINE)
        return coop_asprintf("plugin '%s' has unknown kind %d", d->name, (int)d->kind);
    if (!d->ops)
        return coop_asprintf("plugin '%s' has no ops table", d->name);
    const char *kind = coop_plugin_kind_name(d->kind);
    uint32_t version = *(const uint32_t *)d->ops, need = min_ops_version[d->kind];
    if (version < need)
        return coop_asprintf("plugin '%s' has %s ops table version %u, older than the %u this "
                             "coop needs: rebuild the plugin against this coop",
                             d->name, kind, version, need);
    const char *member = missing_member(d->kind, d->ops);
    if (member)
        return coop_asprintf("plugin '%s': its %s ops table leaves the required member %s NULL",
                             d->name, kind, member);
    return NULL;
}

static int load_file(struct coop_registry *r, const char *path, struct coop_err *e);

int coop_registry_load_file(struct coop_registry *r, const char *path, struct coop_err *e)
{
    struct coop_err le; /* every failure is recorded, whether or not the caller asks */
    le.msg[0] = '\0';
    int rc = load_file(r, path, &le);
    if (rc && e)
        *e = le;
    return rc;
}

static int load_file(struct coop_registry *r, const char *path, struct coop_err *e)
{
    for (size_t i = 0; i < r->n_modules; i++)
        if (strcmp(r->module_paths[i], path) == 0)
            return 0; /* same file reached twice through overlapping paths */
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        int rc = coop_fail(e, COOP_E_IO, "%s: cannot load plugin: %s", path,
                           why ? why : "unknown dlopen error");
        add_problem(r, path, NULL, false, coop_strdup(e->msg));
        return rc;
    }
    union {
        void *obj;
        coop_plugin_enum_fn fn;
    } sym;
    sym.obj = dlsym(h, COOP_PLUGIN_ENUM_SYMBOL);
    if (!sym.obj) {
        dlclose(h);
        int rc = coop_fail(e, COOP_E_NOTFOUND, "%s: not a coop plugin: entry point %s() missing",
                           path, COOP_PLUGIN_ENUM_SYMBOL);
        add_problem(r, path, NULL, false, coop_strdup(e->msg));
        return rc;
    }
    if (grow((void **)&r->modules, &r->cap_modules, r->n_modules + 1, sizeof(void *)) ||
        grow((void **)&r->module_paths, &r->cap_paths, r->n_modules + 1, sizeof(char *))) {
        dlclose(h);
        return coop_fail(e, COOP_E_NOMEM, "out of memory");
    }
    size_t mod = r->n_modules;
    r->modules[mod] = h;
    r->module_paths[mod] = coop_strdup(path);
    r->n_modules++;
    int rc = 0;
    for (uint32_t i = 0; i < 4096; i++) {
        const struct coop_plugin *d = sym.fn(i);
        if (!d)
            break;
        char *why = validate(d, i);
        if (why) {
            rc = coop_fail(e, COOP_E_ABI, "%s: %s", path, why);
            free(why);
            add_problem(r, path, d->name, false, coop_strdup(e->msg));
            continue;
        }
        const struct coop_plugin *prev = lookup(r, d->kind, d->name);
        if (prev) {
            add_problem(r, path, d->name, true,
                        coop_asprintf("%s: %s plugin '%s' shadowed by one found earlier", path,
                                      coop_plugin_kind_name(d->kind), d->name));
            continue;
        }
        if (grow((void **)&r->entries, &r->cap, r->n + 1, sizeof *r->entries))
            return coop_fail(e, COOP_E_NOMEM, "out of memory");
        r->entries[r->n++] = (struct entry){d, mod};
    }
    return rc;
}

static int is_plugin_file(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0 && name[0] != '.';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int scan(struct coop_registry *r, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (grow((void **)&names, &cap, n + 1, sizeof(char *)))
            break;
        names[n++] = coop_asprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_str); /* deterministic discovery order */
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!names[i] || stat(names[i], &st) != 0)
            continue;
        const char *base = strrchr(names[i], '/') + 1;
        if (S_ISDIR(st.st_mode) && depth < 4 && strcmp(base, "meson-private") != 0 &&
            strstr(base, ".p") != base + strlen(base) - 2)
            scan(r, names[i], depth + 1);
        else if (S_ISREG(st.st_mode) && is_plugin_file(base))
            coop_registry_load_file(r, names[i], NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return 0;
}

int coop_registry_scan_dir(struct coop_registry *r, const char *dir, struct coop_err *e)
{
    (void)e;
    return scan(r, dir, 0);
}

/* Whether this process runs from the build tree (the tests, build/core/cli/...):
 * its executable lies under COOP_BUILD_ROOT. An installed program must not
 * load the build tree's copies ahead of the installed plugins, nor report
 * every installed one as shadowed by them. Unknown (no /proc): the build tree. */
static bool runs_from_build_tree(void)
{
    char exe[PATH_MAX], root[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return true;
    exe[n] = '\0';
    if (!realpath(COOP_BUILD_ROOT, root))
        return false; /* the build tree is gone */
    size_t len = strlen(root);
    return strncmp(exe, root, len) == 0 && exe[len] == '/';
}

int coop_registry_discover(struct coop_registry *r, const char *const *extra, size_t n_extra,
                           struct coop_err *e)
{
    if (runs_from_build_tree())
        scan(r, COOP_BUILD_PLUGINDIR, 0);
    scan(r, COOP_PLUGINDIR, 0);
    const char *env = getenv("COOP_PLUGIN_PATH");
    if (env && *env) {
        char *copy = coop_strdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
            struct stat st;
            if (stat(tok, &st) == 0 && S_ISREG(st.st_mode))
                coop_registry_load_file(r, tok, NULL);
            else
                scan(r, tok, 0);
        }
        free(copy);
    }
    for (size_t i = 0; i < n_extra; i++) {
        struct stat st;
        if (stat(extra[i], &st) != 0)
            return coop_fail(e, COOP_E_NOTFOUND, "plugin_path entry %s does not exist", extra[i]);
        if (S_ISREG(st.st_mode)) {
            int rc = coop_registry_load_file(r, extra[i], e);
            if (rc)
                return rc;
        } else {
            scan(r, extra[i], 0);
        }
    }
    return 0;
}

const struct coop_plugin *coop_registry_find(const struct coop_registry *r,
                                             enum coop_plugin_kind kind, const char *name)
{
    return lookup(r, kind, name);
}

/* Whether the rejected file could have provided plugin name: its descriptor
 * says so, or (nothing was read from it) its file name is <name>.so or ends
 * in -<name>.so or _<name>.so, as the tree's coop-<kind>-<name>.so do. */
static bool rejected_for(const struct rejected *x, const char *name)
{
    if (x->shadowed)
        return false;
    if (x->name)
        return strcmp(x->name, name) == 0;
    const char *base = strrchr(x->path, '/');
    base = base ? base + 1 : x->path;
    size_t lb = strlen(base), ln = strlen(name);
    if (lb < 3 || strcmp(base + lb - 3, ".so") != 0 || lb - 3 < ln ||
        strncmp(base + lb - 3 - ln, name, ln) != 0)
        return false;
    return lb - 3 == ln || base[lb - 4 - ln] == '-' || base[lb - 4 - ln] == '_';
}

size_t coop_registry_rejected(const struct coop_registry *r, const char *name, char *why,
                              size_t len)
{
    size_t n = 0, at = 0;
    if (len)
        why[0] = '\0';
    for (size_t i = 0; i < r->n_problems; i++) {
        if (!rejected_for(&r->rejected[i], name))
            continue;
        if (at < len)
            at += (size_t)snprintf(why + at, len - at, "%s%s", n ? "; " : "", r->problems[i]);
        n++;
    }
    return n;
}

int coop_registry_explain(const struct coop_registry *r, enum coop_plugin_kind kind,
                          const char *name, struct coop_err *e)
{
    char why[COOP_ERR_MAX - 128];
    if (coop_registry_rejected(r, name, why, sizeof why))
        return coop_fail(e, COOP_E_NOTFOUND, "%s%splugin '%s' is not available: %s",
                         kind ? coop_plugin_kind_name(kind) : "", kind ? " " : "", name, why);
    const char *names[512];
    size_t n = coop_registry_names(r, kind, names, 512);
    if (n > 512)
        n = 512;
    const char *sug = coop_suggest(name, names, n);
    char failures[600] = "";
    for (size_t i = 0; i < r->n_problems && strlen(failures) < 400; i++)
        if (!r->rejected[i].shadowed) {
            strncat(failures, "; load failure: ", sizeof failures - strlen(failures) - 1);
            strncat(failures, r->problems[i], sizeof failures - strlen(failures) - 1);
        }
    if (sug)
        return coop_fail(e, COOP_E_NOTFOUND, "unknown %s%splugin '%s' (did you mean '%s'?)%s",
                         kind ? coop_plugin_kind_name(kind) : "", kind ? " " : "", name, sug,
                         failures);
    return coop_fail(e, COOP_E_NOTFOUND,
                     "unknown %s%splugin '%s' (%zu plugins of that kind found; coop-run "
                     "--list-plugins shows them)%s",
                     kind ? coop_plugin_kind_name(kind) : "", kind ? " " : "", name, n, failures);
}

size_t coop_registry_count(const struct coop_registry *r) { return r->n; }
const struct coop_plugin *coop_registry_get(const struct coop_registry *r, size_t i)
{
    return i < r->n ? r->entries[i].desc : NULL;
}
const char *coop_registry_path(const struct coop_registry *r, size_t i)
{
    return i < r->n ? r->module_paths[r->entries[i].module] : NULL;
}

size_t coop_registry_names(const struct coop_registry *r, enum coop_plugin_kind kind,
                           const char **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (kind == 0 || r->entries[i].desc->kind == kind) {
            if (k < max)
                out[k] = r->entries[i].desc->name;
            k++;
        }
    return k;
}

size_t coop_registry_problem_count(const struct coop_registry *r) { return r->n_problems; }
const char *coop_registry_problem(const struct coop_registry *r, size_t i)
{
    return i < r->n_problems ? r->problems[i] : NULL;
}

static const void *ops_of(const struct coop_plugin *p, enum coop_plugin_kind kind,
                          struct coop_err *e)
{
    if (!p) {
        coop_fail(e, COOP_E_INVAL, "no plugin");
        return NULL;
    }
    if (p->kind != kind) {
        coop_fail(e, COOP_E_INVAL, "plugin '%s' is a %s plugin, not a %s plugin", p->name,
                  coop_plugin_kind_name(p->kind), coop_plugin_kind_name(kind));
        return NULL;
    }
    return p->ops;
}

const struct coop_backbone_ops *coop_plugin_backbone(const struct coop_plugin *p,
                                                     struct coop_err *e)
{
    return ops_of(p, COOP_PLUGIN_BACKBONE, e);
}
const struct coop_dataset_ops *coop_plugin_dataset(const struct coop_plugin *p,
                                                   struct coop_err *e)
{
    return ops_of(p, COOP_PLUGIN_DATASET, e);
}
const struct coop_prompt_ops *coop_plugin_prompt(const struct coop_plugin *p, struct coop_err *e)
{
    return ops_of(p, COOP_PLUGIN_PROMPT, e);
}
const struct coop_baseline_ops *coop_plugin_baseline(const struct coop_plugin *p,
                                                     struct coop_err *e)
{
    return ops_of(p, COOP_PLUGIN_BASELINE, e);
}
