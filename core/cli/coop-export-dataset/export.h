/* export.h: writing a dataset's splits to the published on-disk layout. */
#ifndef EXPORT_EXPORT_H
#define EXPORT_EXPORT_H

#include "coop/plugin.h"
#include <stdbool.h>

struct export_opts {
    const char *out_dir;
    const char *json_name;      /* file name of the split JSON */
    bool splits[3];             /* which of train/val/test to write */
    const char *sheet;          /* contact sheet PNG path, or NULL */
    int sheet_n;                /* images in the contact sheet (from test) */
    bool quiet;
};

/* Writes out_dir/images/<id>.png for every item of the chosen splits,
 * out_dir/<json_name> ({"train": [[rel_path, label, classname], ...], ...},
 * paths relative to out_dir/images) and out_dir/meta.json (class names,
 * template, source_class). */
int export_dataset(const struct coop_dataset_ops *ops, struct coop_dataset *ds, const char *name,
                   const struct export_opts *o, struct coop_err *e);

/* Writes {"train": [[rel_path, label, classname], ...], "val": [...]} for
 * the given item indices (a few-shot sample), paths as in the split JSON. */
int export_fewshot_json(const struct coop_dataset_ops *ops, struct coop_dataset *ds,
                        const size_t *train, size_t n_train, const size_t *val, size_t n_val,
                        const char *path, struct coop_err *e);

#endif
