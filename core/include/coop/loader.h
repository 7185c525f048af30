/* coop/loader.h: plugin discovery and loading (host side of plugin.h).
 * A registry holds every plugin descriptor found in a list of folders or
 * files. Discovery order (first name wins, later duplicates are recorded as
 * shadowed): the build tree (only for a program run from the build tree), the
 * install directory, COOP_PLUGIN_PATH (colon-separated), then caller-given
 * folders (the YAML's plugin_path).
 * A file that fails to load (dlopen error, missing entry point, ABI mismatch,
 * malformed descriptor) never aborts discovery: the failure is kept with the
 * file name and reason, and reported when a plugin of that name is requested
 * or when the user lists plugins. */
#ifndef COOP_LOADER_H
#define COOP_LOADER_H

#include "coop/plugin.h"

struct coop_registry;

COOP_API int coop_registry_create(struct coop_registry **out, struct coop_err *e);
/* Frees the registry. Loaded modules stay mapped until the process exits. */
COOP_API void coop_registry_free(struct coop_registry *r);

/* Scans dir (recursively, depth <= 4) for *.so files and loads each. A missing
 * folder is not an error (returns 0, nothing added). */
COOP_API int coop_registry_scan_dir(struct coop_registry *r, const char *dir, struct coop_err *e);
/* Loads one shared object; returns its error (also recorded in the registry). */
COOP_API int coop_registry_load_file(struct coop_registry *r, const char *path,
                                     struct coop_err *e);
/* The standard discovery order; extra = YAML plugin_path entries (may be NULL). */
COOP_API int coop_registry_discover(struct coop_registry *r, const char *const *extra,
                                    size_t n_extra, struct coop_err *e);

/* kind 0 = any kind. NULL if absent; then coop_registry_explain fills e with
 * the reason (load failures of files that may have provided it, suggestions). */
COOP_API const struct coop_plugin *coop_registry_find(const struct coop_registry *r,
                                                      enum coop_plugin_kind kind,
                                                      const char *name);
COOP_API int coop_registry_explain(const struct coop_registry *r, enum coop_plugin_kind kind,
                                   const char *name, struct coop_err *e);
/* The load failures of files that would have provided plugin name (their
 * descriptor carries the name, or nothing was read and the file is named
 * <name>.so, *-<name>.so or *_<name>.so), as "file: reason" joined by "; "
 * into why[len]; returns how many (0: none, why is empty). */
COOP_API size_t coop_registry_rejected(const struct coop_registry *r, const char *name,
                                       char *why, size_t len);

COOP_API size_t coop_registry_count(const struct coop_registry *r);
COOP_API const struct coop_plugin *coop_registry_get(const struct coop_registry *r, size_t i);
COOP_API const char *coop_registry_path(const struct coop_registry *r, size_t i);
/* Names of a kind (0 = all), up to max; returns the total count. */
COOP_API size_t coop_registry_names(const struct coop_registry *r, enum coop_plugin_kind kind,
                                    const char **out, size_t max);
/* Load failures and shadowed duplicates, as "file: reason" lines. */
COOP_API size_t coop_registry_problem_count(const struct coop_registry *r);
COOP_API const char *coop_registry_problem(const struct coop_registry *r, size_t i);

COOP_API const char *coop_plugin_kind_name(enum coop_plugin_kind kind);
/* Ops accessors with a version check: NULL (and e filled) if the plugin's
 * table is older than version 1 or its kind differs. */
COOP_API const struct coop_backbone_ops *coop_plugin_backbone(const struct coop_plugin *p,
                                                              struct coop_err *e);
COOP_API const struct coop_dataset_ops *coop_plugin_dataset(const struct coop_plugin *p,
                                                            struct coop_err *e);
COOP_API const struct coop_prompt_ops *coop_plugin_prompt(const struct coop_plugin *p,
                                                          struct coop_err *e);
COOP_API const struct coop_baseline_ops *coop_plugin_baseline(const struct coop_plugin *p,
                                                              struct coop_err *e);

/* A plugin's declared parameters (NULL-terminated by name; NULL if none). */
COOP_API const struct coop_param_spec *coop_plugin_params(const struct coop_plugin *p);
/* "int", "float", "bool", "string" or "choice". */
COOP_API const char *coop_param_type_name(enum coop_param_type t);
/* The range ("[1, 64]") or choices ("end|middle|front") of spec in buf, or
 * "-" when it has neither; returns the text. */
COOP_API const char *coop_param_domain(const struct coop_param_spec *spec, char *buf,
                                       size_t len);
/* Checks the n parameters kv[0..n) (a dataset's, from the command line)
 * against spec: unknown keys (with a suggestion) and numbers outside their
 * range are COOP_E_INVAL naming the parameter; then appends the default of
 * every spec entry not given (borrowed strings), refusing a missing required
 * one; kv holds cap entries. */
COOP_API int coop_params_resolve(const struct coop_param_spec *spec, struct coop_kv *kv,
                                 size_t *n, size_t cap, struct coop_err *e);

#endif
