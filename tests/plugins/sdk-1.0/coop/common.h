/* coop/common.h: status codes, error messages and the export macro shared by
 * every public header. Nothing here allocates or prints. */
#ifndef COOP_COMMON_H
#define COOP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(COOP_BUILDING_LIB)
#define COOP_API __attribute__((visibility("default")))
#else
#define COOP_API
#endif

#if defined(__GNUC__)
#define COOP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define COOP_PRINTF(a, b)
#endif

/* Every fallible call returns 0 or one of these (negative) and fills a
 * caller-provided struct coop_err with a human-readable message. */
enum coop_status {
    COOP_OK = 0,
    COOP_E_INVAL = -1,       /* bad argument or configuration value */
    COOP_E_IO = -2,          /* file missing, unreadable, short read */
    COOP_E_NOMEM = -3,       /* allocation failed or a size limit was exceeded */
    COOP_E_FORMAT = -4,      /* malformed file contents */
    COOP_E_UNSUPPORTED = -5, /* valid request this build or plugin cannot serve */
    COOP_E_INTERRUPTED = -6, /* stopped by a signal or a cancel request */
    COOP_E_NOTFOUND = -7,    /* named thing (plugin, tensor, key, class) absent */
    COOP_E_ABI = -8,         /* plugin built against another ABI */
    COOP_E_NUMERIC = -9      /* a NaN or infinity where a finite number is needed */
};

#define COOP_ERR_MAX 1024
struct coop_err {
    char msg[COOP_ERR_MAX];
};

/* Formats into e (if non-NULL) and returns code, so callers can write
 * `return coop_fail(e, COOP_E_IO, "%s: cannot open", path);`. */
COOP_API int coop_fail(struct coop_err *e, int code, const char *fmt, ...) COOP_PRINTF(3, 4);
/* Prepends "prefix: " to the message already in e (keeps the original cause). */
COOP_API int coop_fail_prefix(struct coop_err *e, int code, const char *fmt, ...)
    COOP_PRINTF(3, 4);
COOP_API const char *coop_status_name(int code);

#endif
