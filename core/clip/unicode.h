/* core/clip/unicode.h (internal): Unicode classes, lower-casing and HTML
 * entity tables for the BPE tokenizer, generated from Python by
 * tests/clip/gen_unicode_tables.py into unicode_tables.c, plus UTF-8 helpers
 * (unicode.c). Nothing here allocates except the decode/encode helpers. */
#ifndef COOP_CLIP_UNICODE_H
#define COOP_CLIP_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const uint32_t coop_uc_letter[][2], coop_uc_number[][2], coop_uc_re_space[][2],
    coop_uc_py_space[][2], coop_uc_cased[][2], coop_uc_case_ignorable[][2],
    coop_uc_lower[][2], coop_uc_ascii_fold[][2], coop_uc_html_invalid_codepoints[][2];
extern const size_t coop_uc_letter_n, coop_uc_number_n, coop_uc_re_space_n, coop_uc_py_space_n,
    coop_uc_cased_n, coop_uc_case_ignorable_n, coop_uc_lower_n, coop_uc_ascii_fold_n, coop_uc_width_n,
    coop_uc_html_invalid_codepoints_n;

struct coop_html_entity {
    const char *name;  /* without '&', with ';' when the entity has one */
    const char *value; /* UTF-8 */
};
struct coop_html_charref {
    uint32_t num, cp;
};
extern const struct coop_html_entity coop_html_entities[];
extern const size_t coop_html_entities_n;
extern const struct coop_html_charref coop_html_invalid_charrefs[];
extern const size_t coop_html_invalid_charrefs_n;

bool coop_uc_in(const uint32_t (*r)[2], size_t n, uint32_t cp);
static inline bool coop_uc_is_letter(uint32_t c) { return coop_uc_in(coop_uc_letter, coop_uc_letter_n, c); }
static inline bool coop_uc_is_number(uint32_t c) { return coop_uc_in(coop_uc_number, coop_uc_number_n, c); }
/* \s of the regex module / str.isspace() of Python */
static inline bool coop_uc_is_re_space(uint32_t c) { return coop_uc_in(coop_uc_re_space, coop_uc_re_space_n, c); }
static inline bool coop_uc_is_py_space(uint32_t c) { return coop_uc_in(coop_uc_py_space, coop_uc_py_space_n, c); }
/* Simple one-to-one lower-case mapping (U+0130 is handled by the caller). */
uint32_t coop_uc_lower1(uint32_t c);
/* The ASCII letter c matches under regex IGNORECASE, or 0. */
uint32_t coop_uc_fold_ascii(uint32_t c);

struct coop_uc_map {
    uint32_t cp;
    const char *utf8;
};
/* ftfy.fix_character_width: NFKC of U+FF01..U+FFEF and U+3000, sorted. */
extern const struct coop_uc_map coop_uc_width[];
/* Replacement (UTF-8) for c, or NULL. */
const char *coop_uc_width_fix(uint32_t c);

/* UTF-8 -> code points; invalid sequences become U+FFFD (like Python's
 * bytes.decode("utf-8", "replace")). *out malloc'd, *n code points. */
int coop_utf8_decode(const char *s, size_t len, uint32_t **out, size_t *n);
/* Appends the UTF-8 of cp to buf (4 bytes room needed); returns bytes. */
size_t coop_utf8_put(char *buf, uint32_t cp);

#endif
