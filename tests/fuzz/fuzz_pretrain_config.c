/* tests/fuzz/fuzz_pretrain_config.c: coop-pretrain's config file ("key =
 * value" lines): load over the defaults (through a scratch file), check, and
 * dump the resolved config; a dump must load back. */
#include "fuzz_util.h"
#include "coop/pretrain.h"
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1100];
    struct coop_err e;
    struct coop_pretrain_config c;
    coop_pretrain_config_default(&c);
    fuzz_write(path, sizeof path, "fuzz.conf", data, size);
    if (coop_pretrain_config_load(&c, path, &e) != 0)
        return 0;
    coop_pretrain_config_check(&c, &e);
    char *dump = coop_pretrain_config_dump(&c);
    if (!dump)
        abort();
    struct coop_pretrain_config back;
    coop_pretrain_config_default(&back);
    fuzz_write(path, sizeof path, "fuzz.conf", dump, strlen(dump));
    free(dump);
    if (coop_pretrain_config_load(&back, path, &e) != 0) {
        fprintf(stderr, "a dumped config does not load back: %s\n", e.msg);
        abort();
    }
    return 0;
}
