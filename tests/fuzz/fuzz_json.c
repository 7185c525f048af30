/* tests/fuzz/fuzz_json.c: the strict JSON reader (split files, the few-shot
 * cache, Hugging Face vocabularies, safetensors headers) from memory, both
 * entry points, then a walk over the tree that reads every value. */
#include "fuzz_util.h"
#include "coop/json.h"
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static size_t walk(const struct coop_json *v)
{
    size_t n = (size_t)v->line + (size_t)v->col;
    long long x;
    if (v->type == COOP_JSON_STRING)
        n += v->len && v->str[v->len - 1] ? 1 : 0;
    if (v->type == COOP_JSON_NUMBER)
        n += coop_json_int(v, -1000, 1000, &x);
    if (v->type == COOP_JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++)
            n += strlen(v->keys[i]) + (coop_json_get(v, v->keys[i]) == &v->items[i]);
    if (v->type == COOP_JSON_ARRAY || v->type == COOP_JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++)
            n += walk(&v->items[i]);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct coop_json *j = NULL;
    struct coop_err e;
    volatile size_t sink = 0;
    if (coop_json_parse(&j, (const char *)data, size, "fuzz.json", &e) == 0) {
        sink += walk(j);
        coop_json_free(j);
    }
    if (coop_json_parse_bytes(&j, (const char *)data, size, 8, "fuzz.safetensors", &e) == 0) {
        sink += walk(j);
        coop_json_free(j);
    }
    (void)sink;
    return 0;
}
