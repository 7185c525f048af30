/* cpu.c: the instruction sets this process may use, from cpuid and the
 * register state the OS saves (xgetbv). A CPU flag alone is not enough: a
 * kernel or hypervisor that does not save the AVX-512 or AMX registers makes
 * those instructions fault. Reads nothing but the CPU; never prints. */
#include "coop/cpu.h"
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#define XCR0_AVX 0x6u         /* SSE + AVX (YMM) state */
#define XCR0_AVX512 0xe0u     /* opmask, ZMM0-15 upper halves, ZMM16-31 */
#define XCR0_AMX 0x60000u     /* XTILECFG + XTILEDATA */

static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void read_vendor(char out[13])
{
    unsigned a, b, c, d;
    out[0] = '\0';
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    memcpy(out, &b, 4);
    memcpy(out + 4, &d, 4);
    memcpy(out + 8, &c, 4);
    out[12] = '\0';
}

void coop_cpu_detect(struct coop_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    read_vendor(f->vendor);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return;
    unsigned long long x = xcr0();
    bool os_avx = (x & XCR0_AVX) == XCR0_AVX;
    bool os_512 = os_avx && (x & XCR0_AVX512) == XCR0_AVX512;
    bool os_amx = (x & XCR0_AMX) == XCR0_AMX;
    f->avx = os_avx && (c & bit_AVX);
    f->fma = os_avx && (c & bit_FMA);
    if (__get_cpuid_max(0, NULL) < 7)
        return;
    unsigned max_sub, b7, c7, d7;
    __cpuid_count(7, 0, max_sub, b7, c7, d7);
    f->avx2 = os_avx && (b7 & bit_AVX2);
    f->avx512f = os_512 && (b7 & (1u << 16));
    f->avx512dq = os_512 && (b7 & (1u << 17));
    f->avx512bw = os_512 && (b7 & (1u << 30));
    f->avx512vl = os_512 && (b7 & (1u << 31));
    f->amx = os_amx && (d7 & (1u << 24)) && (d7 & (1u << 22)); /* AMX-TILE, AMX-BF16 */
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = f->avx512f && (a & (1u << 5));
    }
    (void)c7;
}
#else
void coop_cpu_detect(struct coop_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif

void coop_cpu_describe(const struct coop_cpu_features *f, char *out, size_t n)
{
    static const char *const names[] = {"avx", "avx2", "fma", "avx512f", "avx512bw",
                                        "avx512vl", "avx512dq", "avx512_bf16", "amx"};
    const bool has[] = {f->avx, f->avx2, f->fma, f->avx512f, f->avx512bw,
                        f->avx512vl, f->avx512dq, f->avx512_bf16, f->amx};
    size_t used = (size_t)snprintf(out, n, "%s", f->vendor[0] ? f->vendor : "unknown vendor");
    int any = 0;
    for (size_t i = 0; i < sizeof has / sizeof *has && used < n; i++)
        if (has[i]) {
            used += (size_t)snprintf(out + used, n - used, " %s", names[i]);
            any = 1;
        }
    if (!any && used < n)
        snprintf(out + used, n - used, " (no AVX)");
}
