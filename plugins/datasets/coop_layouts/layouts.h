/* layouts.h: internals shared by the files of the coop_layouts plugin (the
 * published CoOp on-disk layouts). Not an installed header: plugins see only
 * include/coop/. */
#ifndef COOP_LAYOUTS_H
#define COOP_LAYOUTS_H

#include "coop/json.h"
#include "coop/plugin.h"
#include "coop/util.h"

enum lay_kind {
    LAY_ZHOU,     /* split_zhou_*.json next to an image folder */
    LAY_AIRCRAFT, /* variants.txt + images_variant_{train,val,test}.txt */
    LAY_IMAGENET, /* images/{train,val}/<wnid>/ + classnames.txt */
    LAY_V2,       /* <images>/{0..999}/: folder i = class i */
    LAY_SKETCH,   /* <images>/<wnid>/ for all 1000 classes */
    LAY_SUBSET    /* <images>/<wnid>/ for a subset (ImageNet-A, -R) */
};

struct lay_desc {
    const char *name;
    enum lay_kind kind;
    const char *folder;     /* under data_root */
    const char *images;     /* image folder under folder ("" = folder itself) */
    const char *split_file; /* LAY_ZHOU only */
    const char *template_text;
};

/* Strings of one dataset live in a few large blocks (1.28M ImageNet paths). */
struct lay_block {
    struct lay_block *next;
    size_t used, cap;
    char data[];
};

struct lay_items {
    size_t n, cap;
    struct coop_item *v;
};

struct lay_ds {
    const struct lay_desc *desc;
    const struct coop_host *host;
    char *base;     /* <data_root>/<folder> */
    char *imgdir;   /* <base>/<images>: item ids are relative to it */
    int num_classes;
    char **names;   /* [num_classes], strings in the pool */
    int *source;    /* [num_classes] ImageNet label, targets only */
    struct lay_items split[3];
    struct lay_block *pool;
    bool check_files;
    const char *split_file; /* option: "" = desc->split_file; valid during open only */
};

/* Copies s (n bytes) into the pool, NUL-terminated; NULL when out of memory. */
char *lay_strndup(struct lay_ds *ds, const char *s, size_t n);
/* Adds an item <imgdir>/<rel> with label to split sp. */
int lay_add(struct lay_ds *ds, enum coop_split sp, int label, const char *rel, struct coop_err *e);
/* Allocates names/source for C classes. */
int lay_classes_alloc(struct lay_ds *ds, int C, bool with_source, struct coop_err *e);
/* A missing-folder error that says which layout was expected, and where. */
int lay_missing(const struct lay_ds *ds, const char *path, struct coop_err *e);

int lay_load_zhou(struct lay_ds *ds, struct coop_err *e);
int lay_load_aircraft(struct lay_ds *ds, struct coop_err *e);
/* ImageNet and its four targets. */
int lay_load_imagenet(struct lay_ds *ds, const char *data_root, struct coop_err *e);
int lay_load_target(struct lay_ds *ds, const char *data_root, struct coop_err *e);

#endif
