/* core/clip/nfc.h (internal): Unicode NFC normalisation as Python's
 * unicodedata.normalize("NFC") does it (tables generated from Python by
 * tests/clip/gen_nfc_tables.py into nfc_tables.c; Hangul algorithmic). */
#ifndef COOP_CLIP_NFC_H
#define COOP_CLIP_NFC_H

#include <stddef.h>
#include <stdint.h>

struct coop_nfc_decomp {
    uint32_t cp;
    const char *utf8; /* full canonical decomposition */
};
extern const uint32_t coop_nfc_quick_below;
extern const uint32_t coop_nfc_ccc[][3];   /* lo, hi, class (non-zero only) */
extern const size_t coop_nfc_ccc_n;
extern const struct coop_nfc_decomp coop_nfc_decomp[];
extern const size_t coop_nfc_decomp_n;
extern const uint32_t coop_nfc_comp[][3];  /* first, second, composite; sorted */
extern const size_t coop_nfc_comp_n;

/* s[n] -> NFC in *out (malloc'd, *m code points). -1 on out of memory. */
int coop_nfc(const uint32_t *s, size_t n, uint32_t **out, size_t *m);

#endif
