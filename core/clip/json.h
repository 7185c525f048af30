/* core/clip/json.h (internal): a small strict JSON parser for safetensors
 * headers and Hugging Face vocab.json files. Builds a read-only tree in one
 * allocation pool; errors name the byte offset. Not a general JSON library:
 * no serialisation, numbers kept as double plus an exact int64 when integral. */
#ifndef COOP_CLIP_JSON_H
#define COOP_CLIP_JSON_H

#include "coop/common.h"
#include <stdbool.h>

/* Internal names, distinct from the public coop/json.h parser (core/data). */
#define coop_json_type clip_json_type
#define coop_json clip_json
#define coop_json_parse clip_json_parse
#define coop_json_free clip_json_free
#define coop_json_get clip_json_get

enum coop_json_type { COOP_JSON_NULL, COOP_JSON_BOOL, COOP_JSON_NUMBER, COOP_JSON_STRING,
                      COOP_JSON_ARRAY, COOP_JSON_OBJECT };

struct coop_json {
    enum coop_json_type type;
    bool b;
    bool is_int;          /* number written without fraction/exponent, fits int64 */
    int64_t i;
    double d;
    char *s;              /* STRING: NUL-terminated UTF-8 (may contain no NUL) */
    size_t len;           /* STRING: bytes; ARRAY/OBJECT: number of items */
    char **keys;          /* OBJECT: keys[len] */
    struct coop_json *items; /* ARRAY/OBJECT: items[len] */
    size_t offset;        /* byte offset of the value in the input */
};

/* Parses text[0..n) (need not be NUL-terminated). *out is freed with
 * coop_json_free. base is added to offsets in error messages (e.g. 8 for a
 * safetensors header). Duplicate keys are kept (callers that care check). */
int coop_json_parse(struct coop_json **out, const char *text, size_t n, size_t base,
                    struct coop_err *e);
void coop_json_free(struct coop_json *j);
/* Object member by key, or NULL. */
const struct coop_json *coop_json_get(const struct coop_json *obj, const char *key);

#endif
