/* loader.h: the export tool's minimal plugin loader (find a dataset
 * descriptor by name in a list of folders). Replace with coop/loader.h once
 * the project's loader exists. */
#ifndef EXPORT_LOADER_H
#define EXPORT_LOADER_H

#include "coop/plugin.h"

struct found_plugin {
    void *handle;                     /* dlopen handle, dlclose when done */
    const struct coop_plugin *desc;
    char file[1024];
};

/* Folders searched, in order: extra[] (n_extra), $COOP_PLUGIN_PATH (colon
 * separated), the build tree's plugins, the install folder. A name containing
 * '/' may also be given as "file.so:name". */
int loader_find_dataset(struct found_plugin *out, const char *name, const char *const *extra,
                        int n_extra, struct coop_err *e);
/* Releases the module (no-op if nothing was found). */
void dlclose_plugin(struct found_plugin *p);
/* Prints every dataset descriptor found (name, version, file, summary). */
int loader_list_datasets(const char *const *extra, int n_extra, struct coop_err *e);

#endif
