/* tests/fuzz/fuzz_util.h: what every fuzz target shares: the libFuzzer entry
 * points' prototypes and a scratch folder for the entry points that only read
 * files. The folder is made on first use under $TMPDIR and removed at exit;
 * each input overwrites the same few files, so nothing accumulates. Header
 * only; aborts (never returns an error) when the scratch folder cannot be
 * made or written, since a target that silently skips inputs fuzzes nothing. */
#ifndef COOP_FUZZ_UTIL_H
#define COOP_FUZZ_UTIL_H

#include "../common/tmpdir.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_scratch_dir[1024];

static void fuzz_scratch_remove(void)
{
    if (fuzz_scratch_dir[0])
        coop_test_rmtree(fuzz_scratch_dir);
}

/* The scratch folder (made on the first call). */
static inline const char *fuzz_scratch(void)
{
    if (!fuzz_scratch_dir[0]) {
        if (coop_test_tmpdir(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "fuzz") != 0)
            abort();
        atexit(fuzz_scratch_remove);
    }
    return fuzz_scratch_dir;
}

/* Writes data[0..size) to <scratch>/<name> and leaves the path in path. */
static inline void fuzz_write(char *path, size_t len, const char *name, const void *data,
                              size_t size)
{
    if ((size_t)snprintf(path, len, "%s/%s", fuzz_scratch(), name) >= len)
        abort();
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
