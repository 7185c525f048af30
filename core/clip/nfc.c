/* core/clip/nfc.c: NFC = canonical decomposition, canonical ordering, then
 * canonical composition (UAX #15), with Hangul syllables done by arithmetic.
 * Strings below coop_nfc_quick_below are returned as they are. */
#include "nfc.h"
#include "unicode.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19,
       VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ccc(uint32_t c)
{
    if (c < 0x300)
        return 0;
    size_t lo = 0, hi = coop_nfc_ccc_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < coop_nfc_ccc[mid][0])
            hi = mid;
        else if (c > coop_nfc_ccc[mid][1])
            lo = mid + 1;
        else
            return (int)coop_nfc_ccc[mid][2];
    }
    return 0;
}

static const char *decomposition(uint32_t c)
{
    size_t lo = 0, hi = coop_nfc_decomp_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < coop_nfc_decomp[mid].cp)
            hi = mid;
        else if (c > coop_nfc_decomp[mid].cp)
            lo = mid + 1;
        else
            return coop_nfc_decomp[mid].utf8;
    }
    return NULL;
}

/* Primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE &&
        b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = coop_nfc_comp_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint32_t *p = coop_nfc_comp[mid];
        if (a < p[0] || (a == p[0] && b < p[1]))
            hi = mid;
        else if (a > p[0] || b > p[1])
            lo = mid + 1;
        else
            return p[2];
    }
    return 0;
}

/* Decomposes s into d (room for 4 * n: no full canonical decomposition is
 * longer than 4 code points, asserted by the table generator). */
static size_t decompose(const uint32_t *s, size_t n, uint32_t *d)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= SBASE && c < SBASE + SCOUNT) {
            uint32_t si = c - SBASE;
            d[w++] = LBASE + si / NCOUNT;
            d[w++] = VBASE + (si % NCOUNT) / TCOUNT;
            if (si % TCOUNT)
                d[w++] = TBASE + si % TCOUNT;
            continue;
        }
        const char *x = c >= 0xC0 ? decomposition(c) : NULL;
        if (!x) {
            d[w++] = c;
            continue;
        }
        uint32_t *cps;
        size_t k;
        if (coop_utf8_decode(x, strlen(x), &cps, &k))
            return (size_t)-1;
        memcpy(d + w, cps, k * sizeof *cps);
        w += k;
        free(cps);
    }
    return w;
}

/* Stable insertion sort of each run of non-starters by combining class. */
static void reorder(uint32_t *d, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int ci = ccc(d[i]);
        if (ci == 0)
            continue;
        size_t j = i;
        while (j > 0 && ccc(d[j - 1]) > ci) {
            uint32_t t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
            j--;
        }
    }
}

static size_t recompose(uint32_t *d, size_t n)
{
    if (n == 0)
        return 0;
    size_t starter = 0, w = 1;
    int last = ccc(d[0]);
    bool have_starter = last == 0;
    if (last != 0)
        last = 256; /* a leading combining mark blocks everything after it */
    for (size_t i = 1; i < n; i++) {
        uint32_t c = d[i];
        int cc = ccc(c);
        uint32_t comp = have_starter ? compose(d[starter], c) : 0;
        if (comp && (last < cc || last == 0)) {
            d[starter] = comp;
            continue;
        }
        if (cc == 0) {
            starter = w;
            have_starter = true;
        }
        last = cc;
        d[w++] = c;
    }
    return w;
}

int coop_nfc(const uint32_t *s, size_t n, uint32_t **out, size_t *m)
{
    bool quick = true;
    for (size_t i = 0; i < n && quick; i++)
        quick = s[i] < coop_nfc_quick_below;
    /* the longest full canonical decomposition is 4 code points */
    uint32_t *d = malloc((quick ? n : 4 * n) * sizeof *d + sizeof *d);
    if (!d)
        return -1;
    size_t k;
    if (quick) {
        if (n)
            memcpy(d, s, n * sizeof *s);
        k = n;
    } else {
        k = decompose(s, n, d);
        if (k == (size_t)-1) {
            free(d);
            return -1;
        }
        reorder(d, k);
        k = recompose(d, k);
    }
    *out = d;
    *m = k;
    return 0;
}
