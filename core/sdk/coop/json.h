/* coop/json.h: a small strict JSON reader (RFC 8259) and a string escaper for
 * writers. Used for the split_zhou_*.json files and the few-shot cache; general
 * enough for any other small JSON file. Errors carry name:line:column. The
 * parser never prints; it refuses nesting deeper than COOP_JSON_MAX_DEPTH. */
#ifndef COOP_JSON_H
#define COOP_JSON_H

#include "coop/common.h"
#include <stdbool.h>
#include <stdio.h>

#define COOP_JSON_MAX_DEPTH 256

enum coop_json_type {
    COOP_JSON_NULL = 0,
    COOP_JSON_BOOL = 1,
    COOP_JSON_NUMBER = 2,
    COOP_JSON_STRING = 3,
    COOP_JSON_ARRAY = 4,
    COOP_JSON_OBJECT = 5
};

/* One value. Arrays: items[0..n). Objects: keys[0..n) and items[0..n), in file
 * order (duplicate keys are an error). Strings: str (NUL-terminated, UTF-8,
 * may contain NUL when escaped as \u0000: use len). line/col: 1-based position
 * of the value's first character, for error messages. */
struct coop_json {
    enum coop_json_type type;
    int line, col;
    size_t offset;   /* byte offset of the value (plus base for coop_json_parse_bytes) */
    bool integral;   /* NUMBER written without fraction or exponent */
    bool boolean;
    double number;
    char *str;
    size_t len; /* string length in bytes, or number of items */
    struct coop_json *items;
    char **keys;
};

/* Parses text[0..len) into a tree owned by the caller (free with
 * coop_json_free). name (e.g. the file path) prefixes error messages:
 * "name:line:col: expected ',' or ']'". Returns 0 or COOP_E_FORMAT /
 * COOP_E_NOMEM. */
COOP_API int coop_json_parse(struct coop_json **out, const char *text, size_t len,
                             const char *name, struct coop_err *e);
/* Same, for JSON embedded in a binary file (a safetensors header): text[0]
 * sits at byte offset base of the file, and errors read
 * "name: JSON: <what> at byte offset N". */
COOP_API int coop_json_parse_bytes(struct coop_json **out, const char *text, size_t len,
                                   size_t base, const char *name, struct coop_err *e);
/* Reads a file (at most max_bytes) and parses it. */
COOP_API int coop_json_parse_file(struct coop_json **out, const char *path, size_t max_bytes,
                                  struct coop_err *e);
COOP_API void coop_json_free(struct coop_json *v);

/* Member of an object by key, or NULL (also when v is not an object). */
COOP_API const struct coop_json *coop_json_get(const struct coop_json *v, const char *key);
/* True if v is a number with an exact integer value in [lo, hi]; sets *out. */
COOP_API bool coop_json_int(const struct coop_json *v, long long lo, long long hi,
                            long long *out);
COOP_API const char *coop_json_type_name(enum coop_json_type t);

/* Writes s as a JSON string literal (quotes included, control characters,
 * '"' and '\\' escaped; other bytes copied as is). Returns 0 or -1 on a
 * write error. */
COOP_API int coop_json_write_string(FILE *f, const char *s);

#endif
