/* rng.c: the project's deterministic generators. Their exact definitions are
 * documented in coop/util.h and mirrored by tests/fixtures generators. */
#include "coop/util.h"
#include <math.h>
#include <string.h>

uint64_t coop_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void coop_hash_uniform(float *dst, size_t n, uint64_t seed, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL;
        double u = (double)(coop_mix64(x) >> 40) * (1.0 / 16777216.0);
        dst[i] = (float)(lo + (hi - lo) * u);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void coop_rng_seed(struct coop_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ULL;
        r->s[i] = coop_mix64(x);
    }
}

uint64_t coop_rng_u64(struct coop_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double coop_rng_uniform(struct coop_rng *r)
{
    return (double)(coop_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t coop_rng_below(struct coop_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do {
        x = coop_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double coop_rng_normal(struct coop_rng *r)
{
    double u1 = coop_rng_uniform(r), u2 = coop_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void coop_rng_shuffle_int(struct coop_rng *r, int *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)coop_rng_below(r, i);
        int t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

uint64_t coop_seed_derive(uint64_t base, const char *label)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the label */
    for (const unsigned char *p = (const unsigned char *)label; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return coop_mix64(base ^ coop_mix64(h));
}
