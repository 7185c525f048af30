/* h5util.c: HDF5 error capture and string helpers for the results store.
 * Must not print: HDF5's own error printing is switched off here. */
#include "h5_internal.h"
#include "coop/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void coop_h5_quiet(void)
{
    static int done;
    if (!done) {
        H5open();
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

struct walk_buf {
    char desc[256];
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    struct walk_buf *b = data;
    if (n == 0 && err->desc)
        snprintf(b->desc, sizeof b->desc, "%s", err->desc);
    return 0;
}

int coop_h5_fail(struct coop_err *e, int code, const char *fmt, ...)
{
    struct walk_buf b = {{0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &b);
    H5Eclear2(H5E_DEFAULT);
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (b.desc[0]) {
        size_t l = strlen(e->msg);
        snprintf(e->msg + l, sizeof e->msg - l, " (HDF5: %s)", b.desc);
    }
    return code;
}

hid_t coop_h5_vlstr_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return t;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hid_t coop_h5_bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t f = 0, tr = 1;
    if (t >= 0 && (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Fixed-length string attributes longer than this are damage (coop writes
 * variable-length ones; an object header holds at most 64 KiB). */
#define MAX_FIXED_STR ((size_t)1 << 24)

static int read_str_attr(hid_t a, char **out)
{
    hid_t ft = H5Aget_type(a);
    if (ft < 0)
        return COOP_E_FORMAT;
    int rc = COOP_E_FORMAT;
    hid_t sp = H5Aget_space(a);
    if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1)
        goto done;
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = coop_h5_vlstr_type();
        char *s = NULL;
        if (H5Aread(a, mt, &s) >= 0) {
            *out = coop_strdup(s ? s : "");
            rc = *out ? 0 : COOP_E_NOMEM;
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else if (H5Tget_size(ft) <= MAX_FIXED_STR) {
        size_t n = H5Tget_size(ft);
        char *s = calloc(n + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        if (s && H5Aread(a, mt, s) >= 0) {
            *out = s;
            s = NULL;
            rc = 0;
        }
        free(s);
        H5Tclose(mt);
    }
done:
    H5Sclose(sp);
    H5Tclose(ft);
    return rc;
}

int coop_h5_attr_str(hid_t obj, const char *name, char **out)
{
    *out = NULL;
    if (H5Aexists(obj, name) <= 0)
        return COOP_E_NOTFOUND;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return COOP_E_FORMAT;
    int rc = read_str_attr(a, out);
    H5Aclose(a);
    return rc;
}

void coop_h5_iso_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool coop_h5_path_exists(hid_t file, const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return false;
    for (char *p = buf;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (buf[0] && H5Lexists(file, buf, H5P_DEFAULT) <= 0)
                return false;
            if (!c)
                return true;
            *p = c;
        }
    }
}
