/* aircraft.c: FGVCAircraft through its text lists (no JSON):
 *   fgvc_aircraft/variants.txt                 one class name a line; line k = class k
 *   fgvc_aircraft/images_variant_<split>.txt   "<image id> <variant name>" a line
 *   fgvc_aircraft/images/<image id>.jpg */
#include "layouts.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AIR_MAX_BYTES ((size_t)1 << 26)

/* Next line of text[*pos..) without trailing "\r"/spaces; false at the end. */
static bool next_line(char *text, size_t *pos, char **line, int *lineno)
{
    if (!text[*pos])
        return false;
    char *s = text + *pos, *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    *pos += len + (nl ? 1 : 0);
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    s[len] = '\0';
    *line = s;
    (*lineno)++;
    return true;
}

static int air_read(const struct lay_ds *ds, const char *name, char **text, char **file,
                    struct coop_err *e)
{
    *file = coop_asprintf("%s/%s", ds->base, name);
    if (!*file)
        return coop_fail(e, COOP_E_NOMEM, "%s: out of memory", ds->desc->name);
    if (!coop_file_exists(*file))
        return lay_missing(ds, *file, e);
    return coop_read_file(*file, AIR_MAX_BYTES, text, NULL, e);
}

static int air_variants(struct lay_ds *ds, struct coop_err *e)
{
    char *text = NULL, *file = NULL, *line, **names = NULL;
    size_t pos = 0;
    int lineno = 0, C = 0;
    int rc = air_read(ds, "variants.txt", &text, &file, e);
    while (rc == 0 && next_line(text, &pos, &line, &lineno)) {
        if (!line[0])
            continue;
        for (int j = 0; j < C; j++)
            if (strcmp(names[j], line) == 0)
                rc = coop_fail(e, COOP_E_FORMAT, "%s:%d: class name '%s' repeated", file,
                               lineno, line);
        char **nn = rc == 0 ? realloc(names, (size_t)(C + 1) * sizeof *nn) : NULL;
        if (rc == 0 && !nn)
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
        if (rc == 0) {
            names = nn;
            names[C++] = line; /* points into text until copied below */
        }
    }
    if (rc == 0 && C == 0)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: no class names", file);
    if (rc == 0)
        rc = lay_classes_alloc(ds, C, false, e);
    for (int k = 0; rc == 0 && k < C; k++)
        if (!(ds->names[k] = lay_strndup(ds, names[k], strlen(names[k]))))
            rc = coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
    free(names);
    free(text);
    free(file);
    return rc;
}

static int air_label(const struct lay_ds *ds, const char *name)
{
    for (int k = 0; k < ds->num_classes; k++)
        if (strcmp(ds->names[k], name) == 0)
            return k;
    return -1;
}

static int air_split(struct lay_ds *ds, enum coop_split sp, const char *listname,
                     struct coop_err *e)
{
    char *text = NULL, *file = NULL, *line;
    size_t pos = 0;
    int lineno = 0;
    int rc = air_read(ds, listname, &text, &file, e);
    while (rc == 0 && next_line(text, &pos, &line, &lineno)) {
        if (!line[0])
            continue;
        char *sp_at = strchr(line, ' ');
        if (!sp_at || sp_at == line || !sp_at[1]) {
            rc = coop_fail(e, COOP_E_FORMAT, "%s:%d: expected \"<image id> <variant>\"", file,
                           lineno);
            break;
        }
        *sp_at = '\0';
        int label = air_label(ds, sp_at + 1);
        if (label < 0) {
            rc = coop_fail(e, COOP_E_FORMAT, "%s:%d: variant '%s' of image %s is not in "
                           "variants.txt", file, lineno, sp_at + 1, line);
            break;
        }
        const char *out = coop_relpath_escapes(line);
        if (out) {
            rc = coop_fail(e, COOP_E_FORMAT, "%s:%d: image id '%.200s' %s; images must stay "
                           "inside %s", file, lineno, line, out, ds->imgdir);
            break;
        }
        char *rel = coop_asprintf("%s.jpg", line);
        rc = rel ? lay_add(ds, sp, label, rel, e)
                 : coop_fail(e, COOP_E_NOMEM, "%s: out of memory", file);
        free(rel);
        const char *path = rc == 0 ? ds->split[sp].v[ds->split[sp].n - 1].path : NULL;
        if (rc == 0 && ds->check_files && access(path, F_OK) != 0)
            rc = coop_fail(e, COOP_E_NOTFOUND, "%s:%d: lists image %s, which does not exist",
                           file, lineno, path);
    }
    free(text);
    free(file);
    return rc;
}

int lay_load_aircraft(struct lay_ds *ds, struct coop_err *e)
{
    int rc = air_variants(ds, e);
    if (rc == 0)
        rc = air_split(ds, COOP_SPLIT_TRAIN, "images_variant_train.txt", e);
    if (rc == 0)
        rc = air_split(ds, COOP_SPLIT_VAL, "images_variant_val.txt", e);
    if (rc == 0)
        rc = air_split(ds, COOP_SPLIT_TEST, "images_variant_test.txt", e);
    return rc;
}
