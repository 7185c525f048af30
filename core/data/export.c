/* export.c: a dataset's splits in the published on-disk layout (for
 * coop-export-dataset): PNG images (through read_pixels, or a byte copy for
 * items that already have a file), the split_zhou-style JSON and a meta.json
 * with what the JSON cannot hold (template, class map). Never prints. */
#include "coop/data.h"
#include "coop/image.h"
#include "coop/json.h"
#include "coop/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const split_names[3] = {"train", "val", "test"};

static void json_str(FILE *f, const char *s)
{
    coop_json_write_string(f, s ? s : "");
}

/* Entry i of a split_zhou list: `[path, label, class name]`, one per line. */
static void json_entry(FILE *f, size_t i, const char *rel, int label, const char *name)
{
    fprintf(f, "%s\n    [", i ? "," : "");
    json_str(f, rel);
    fprintf(f, ", %d, ", label);
    json_str(f, name);
    fputc(']', f);
}

/* Relative path of an item under images/: its id, made safe, plus extension. */
static int rel_path(char *buf, size_t len, const struct coop_item *it, struct coop_err *e)
{
    const char *ext = ".png";
    if (it->path && !strrchr(it->id, '.')) {
        const char *dot = strrchr(it->path, '.');
        ext = dot && !strchr(dot, '/') ? dot : "";
    } else if (it->path)
        ext = "";
    if (strstr(it->id, "..") || it->id[0] == '/' || it->id[0] == '\0')
        return coop_fail(e, COOP_E_FORMAT, "item id '%s' is not a safe relative path", it->id);
    int n = snprintf(buf, len, "%s%s", it->id, ext);
    if (n < 0 || (size_t)n >= len)
        return coop_fail(e, COOP_E_INVAL, "item id '%s' too long", it->id);
    for (char *p = buf; *p; p++)
        if (!(*p == '/' || *p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            *p = '_';
    return COOP_OK;
}

static int ensure_parent(const char *path, struct coop_err *e)
{
    char dir[3200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return COOP_OK;
    *slash = '\0';
    return coop_mkdirs(dir, e);
}

static int copy_file(const char *dst, const char *src, struct coop_err *e)
{
    char *data;
    size_t n;
    int rc = coop_read_file(src, (size_t)1 << 30, &data, &n, e);
    if (rc)
        return rc;
    FILE *f = fopen(dst, "wb");
    if (!f) {
        free(data);
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", dst, strerror(errno));
    }
    size_t w = fwrite(data, 1, n, f);
    free(data);
    if (fclose(f) != 0 || w != n)
        return coop_fail(e, COOP_E_IO, "%s: write failed", dst);
    return COOP_OK;
}

static int write_item(const struct coop_dataset_ops *ops, struct coop_dataset *ds, int s,
                      size_t i, const char *img_dir, FILE *json, struct coop_err *e)
{
    struct coop_item it;
    char rel[1024], path[3200];
    int rc = ops->get_item(ds, (enum coop_split)s, i, &it, e);
    if (!rc)
        rc = rel_path(rel, sizeof rel, &it, e);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", img_dir, rel);
    if ((rc = ensure_parent(path, e)))
        return rc;
    if (it.path) {
        rc = copy_file(path, it.path, e);
    } else {
        uint8_t *rgb;
        int w, h;
        if (!ops->read_pixels)
            return coop_fail(e, COOP_E_UNSUPPORTED, "item %s has no path and no read_pixels", it.id);
        if ((rc = ops->read_pixels(ds, (enum coop_split)s, i, &rgb, &w, &h, e)))
            return rc;
        rc = coop_image_write_png(path, rgb, w, h, 3, e);
        ops->free_pixels(ds, rgb);
    }
    if (rc)
        return rc;
    json_entry(json, i, rel, it.label, ops->class_name(ds, it.label));
    return COOP_OK;
}

static int write_meta(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                      const char *name, const char *path, struct coop_err *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    int K = ops->num_classes(ds);
    fprintf(f, "{\n  \"name\": ");
    json_str(f, name);
    fprintf(f, ",\n  \"template\": ");
    json_str(f, ops->default_template ? ops->default_template(ds) : "a photo of a {}.");
    fprintf(f, ",\n  \"num_classes\": %d,\n  \"classnames\": [", K);
    for (int k = 0; k < K; k++) {
        fprintf(f, k ? ", " : "");
        json_str(f, ops->class_name(ds, k));
    }
    fprintf(f, "],\n  \"source_class\": ");
    if (ops->source_class) {
        fputc('[', f);
        for (int k = 0; k < K; k++)
            fprintf(f, "%s%d", k ? ", " : "", ops->source_class(ds, k));
        fputc(']', f);
    } else
        fprintf(f, "null");
    fprintf(f, "\n}\n");
    return fclose(f) == 0 ? COOP_OK : coop_fail(e, COOP_E_IO, "%s: write failed", path);
}

/* Tiles the first n test images into one PNG, 8 per row, 2-pixel white gaps. */
static int write_sheet(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                       const char *path, int n, struct coop_err *e)
{
    size_t total = ops->split_size(ds, COOP_SPLIT_TEST);
    if ((size_t)n > total)
        n = (int)total;
    if (n <= 0 || !ops->read_pixels)
        return coop_fail(e, COOP_E_UNSUPPORTED, "%s: contact sheet needs in-memory test images", path);
    uint8_t *rgb, *sheet = NULL;
    int w, h, cols = n < 8 ? n : 8, rows = (n + cols - 1) / cols, W = 0, H = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if ((rc = ops->read_pixels(ds, COOP_SPLIT_TEST, (size_t)i, &rgb, &w, &h, e)))
            break;
        if (!sheet) {
            W = cols * (w + 2) + 2;
            H = rows * (h + 2) + 2;
            if (!(sheet = malloc((size_t)W * H * 3))) {
                ops->free_pixels(ds, rgb);
                return coop_fail(e, COOP_E_NOMEM, "%s: %dx%d sheet", path, W, H);
            }
            memset(sheet, 255, (size_t)W * H * 3);
        }
        int x0 = 2 + (i % cols) * (w + 2), y0 = 2 + (i / cols) * (h + 2);
        for (int y = 0; y < h && y0 + y < H; y++)
            memcpy(sheet + ((size_t)(y0 + y) * W + x0) * 3, rgb + (size_t)y * w * 3,
                   (size_t)(x0 + w <= W ? w : W - x0) * 3);
        ops->free_pixels(ds, rgb);
    }
    if (!rc)
        rc = coop_image_write_png(path, sheet, W, H, 3, e);
    free(sheet);
    return rc;
}

int coop_dataset_export(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                        const char *name, const struct coop_export_opts *o, struct coop_err *e)
{
    char img_dir[2048], path[2048];
    snprintf(img_dir, sizeof img_dir, "%s/images", o->out_dir);
    int rc = coop_mkdirs(img_dir, e);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", o->out_dir, o->json_name);
    FILE *json = fopen(path, "w");
    if (!json)
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    fputc('{', json);
    int first = 1;
    for (int s = 0; s < 3 && !rc; s++) {
        if (!o->splits[s])
            continue;
        size_t n = ops->split_size(ds, (enum coop_split)s);
        fprintf(json, "%s\n  \"%s\": [", first ? "" : ",", split_names[s]);
        first = 0;
        for (size_t i = 0; i < n && !rc; i++)
            rc = write_item(ops, ds, s, i, img_dir, json, e);
        fprintf(json, "%s]", n ? "\n  " : "");
        if (!rc && o->on_split)
            o->on_split(o->ctx, split_names[s], n);
    }
    fprintf(json, "\n}\n");
    if (fclose(json) != 0 && !rc)
        rc = coop_fail(e, COOP_E_IO, "%s: write failed", path);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/meta.json", o->out_dir);
    if ((rc = write_meta(ops, ds, name, path, e)))
        return rc;
    return o->sheet ? write_sheet(ops, ds, o->sheet, o->sheet_n, e) : COOP_OK;
}

static int fewshot_rows(const struct coop_dataset_ops *ops, struct coop_dataset *ds, int s,
                        const size_t *idx, size_t n, FILE *f, struct coop_err *e)
{
    for (size_t i = 0; i < n; i++) {
        struct coop_item it;
        char rel[1024];
        int rc = ops->get_item(ds, (enum coop_split)s, idx[i], &it, e);
        if (!rc)
            rc = rel_path(rel, sizeof rel, &it, e);
        if (rc)
            return rc;
        json_entry(f, i, rel, it.label, ops->class_name(ds, it.label));
    }
    fprintf(f, "%s]", n ? "\n  " : "");
    return COOP_OK;
}

int coop_dataset_export_fewshot(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                                const size_t *train, size_t n_train, const size_t *val,
                                size_t n_val, const char *path, struct coop_err *e)
{
    int rc = ensure_parent(path, e);
    if (rc)
        return rc;
    FILE *f = fopen(path, "w");
    if (!f)
        return coop_fail(e, COOP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    fprintf(f, "{\n  \"train\": [");
    rc = fewshot_rows(ops, ds, COOP_SPLIT_TRAIN, train, n_train, f, e);
    if (!rc) {
        fprintf(f, ",\n  \"val\": [");
        rc = fewshot_rows(ops, ds, COOP_SPLIT_VAL, val, n_val, f, e);
    }
    fprintf(f, "\n}\n");
    if (fclose(f) != 0 && !rc)
        rc = coop_fail(e, COOP_E_IO, "%s: write failed", path);
    return rc;
}
