/* core/clip/unicode.c: lookups into the generated Unicode tables and UTF-8
 * encode/decode with Python's "replace" error handling (one U+FFFD per
 * maximal invalid subpart). */
#include "unicode.h"
#include <stdlib.h>

bool coop_uc_in(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

uint32_t coop_uc_lower1(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    size_t lo = 0, hi = coop_uc_lower_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < coop_uc_lower[mid][0])
            hi = mid;
        else if (c > coop_uc_lower[mid][0])
            lo = mid + 1;
        else
            return coop_uc_lower[mid][1];
    }
    return c;
}

uint32_t coop_uc_fold_ascii(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    for (size_t i = 0; i < coop_uc_ascii_fold_n; i++)
        if (coop_uc_ascii_fold[i][0] == c)
            return coop_uc_ascii_fold[i][1];
    return 0;
}

const char *coop_uc_width_fix(uint32_t c)
{
    if (c < 0x3000)
        return NULL;
    size_t lo = 0, hi = coop_uc_width_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < coop_uc_width[mid].cp)
            hi = mid;
        else if (c > coop_uc_width[mid].cp)
            lo = mid + 1;
        else
            return coop_uc_width[mid].utf8;
    }
    return NULL;
}

size_t coop_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the sequence a lead byte starts, with the valid range of the
 * second byte (Unicode Table 3-7); 0 for an invalid lead. */
static int lead_info(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
            *lo = 0xA0;
        if (b == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
            *lo = 0x90;
        if (b == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

int coop_utf8_decode(const char *str, size_t len, uint32_t **out, size_t *n)
{
    const uint8_t *s = (const uint8_t *)str;
    uint32_t *o = malloc((len + 1) * sizeof *o);
    size_t w = 0, i = 0;
    if (!o)
        return -1;
    while (i < len) {
        uint8_t lo, hi;
        int k = lead_info(s[i], &lo, &hi);
        if (k == 1) {
            o[w++] = s[i++];
            continue;
        }
        if (k == 0) {
            o[w++] = 0xFFFD;
            i++;
            continue;
        }
        uint32_t cp = s[i] & (0x7F >> k);
        size_t j = 1;
        for (; j < (size_t)k && i + j < len; j++) {
            uint8_t c = s[i + j];
            if (c < (j == 1 ? lo : 0x80) || c > (j == 1 ? hi : 0xBF))
                break;
            cp = (cp << 6) | (c & 0x3F);
        }
        o[w++] = j == (size_t)k ? cp : 0xFFFD;
        i += j;
    }
    *out = o;
    *n = w;
    return 0;
}
