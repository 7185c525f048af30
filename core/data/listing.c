/* listing.c: sorted directory listings for dataset plugins, and the check that
 * a path from a split file stays inside its folder. Folders such as
 * ImageNet's train split hold ~1.3k entries each, 1.28M in all, so this relies
 * on readdir's d_type and never stats an entry the file system already typed. */
#include "coop/data.h"
#include "coop/util.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool entry_wanted(const char *dir, const struct dirent *d, char want)
{
    if (!want)
        return true;
    unsigned char t = d->d_type;
    if (t == DT_UNKNOWN || t == DT_LNK) { /* follow links, type unknown: ask */
        char *p = coop_asprintf("%s/%s", dir, d->d_name);
        struct stat st;
        bool ok = p && stat(p, &st) == 0 &&
                  (want == 'd' ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(p);
        return ok;
    }
    return want == 'd' ? t == DT_DIR : t == DT_REG;
}

/* Packs the collected names (array of malloc'd strings) into one block. */
static char **pack_names(char **tmp, size_t n)
{
    size_t bytes = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(tmp[i]) + 1;
    char **out = malloc(bytes);
    if (!out)
        return NULL;
    char *s = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tmp[i]) + 1;
        memcpy(s, tmp[i], l);
        out[i] = s;
        s += l;
    }
    out[n] = NULL;
    return out;
}

int coop_dir_list(const char *path, char want, char ***names, size_t *n, struct coop_err *e)
{
    DIR *dir = opendir(path);
    if (!dir)
        return coop_fail(e, errno == ENOENT ? COOP_E_NOTFOUND : COOP_E_IO,
                         "%s: cannot open directory: %s", path, strerror(errno));
    char **tmp = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        if (d->d_name[0] == '.' || !entry_wanted(path, d, want))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nt = realloc(tmp, nc * sizeof *nt);
            if (!nt) {
                rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory listing", path);
                break;
            }
            tmp = nt;
            cap = nc;
        }
        if (!(tmp[cnt] = coop_strdup(d->d_name))) {
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory listing", path);
            break;
        }
        cnt++;
    }
    closedir(dir);
    if (rc == 0) {
        if (cnt)
            qsort(tmp, cnt, sizeof *tmp, cmp_str);
        *names = pack_names(tmp, cnt);
        *n = cnt;
        if (!*names)
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory listing", path);
    }
    for (size_t i = 0; i < cnt; i++)
        free(tmp[i]);
    free(tmp);
    return rc;
}

const char *coop_relpath_escapes(const char *rel)
{
    if (rel[0] == '/')
        return "is an absolute path";
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "climbs out with '..'";
        p += n + (p[n] == '/');
    }
    return NULL;
}
