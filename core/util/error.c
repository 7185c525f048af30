/* error.c: status codes and message formatting (no I/O, no allocation). */
#include "coop/common.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int coop_fail(struct coop_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int coop_fail_prefix(struct coop_err *e, int code, const char *fmt, ...)
{
    if (e) {
        char prefix[COOP_ERR_MAX], old[COOP_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof old);
        old[sizeof old - 1] = '\0';
        /* "prefix: old", truncated to the buffer (the cause may be cut, never overrun) */
        size_t np = strlen(prefix), no = strlen(old), cap = sizeof e->msg - 1;
        if (np > cap)
            np = cap;
        memcpy(e->msg, prefix, np);
        size_t k = np;
        for (const char *sep = ": "; *sep && k < cap; sep++)
            e->msg[k++] = *sep;
        if (no > cap - k)
            no = cap - k;
        memcpy(e->msg + k, old, no);
        e->msg[k + no] = '\0';
    }
    return code;
}

const char *coop_status_name(int code)
{
    switch (code) {
    case COOP_OK: return "ok";
    case COOP_E_INVAL: return "invalid argument";
    case COOP_E_IO: return "i/o error";
    case COOP_E_NOMEM: return "out of memory or over a size limit";
    case COOP_E_FORMAT: return "malformed data";
    case COOP_E_UNSUPPORTED: return "unsupported";
    case COOP_E_INTERRUPTED: return "interrupted";
    case COOP_E_NOTFOUND: return "not found";
    case COOP_E_ABI: return "ABI mismatch";
    case COOP_E_NUMERIC: return "non-finite number";
    default: return "unknown error";
    }
}
