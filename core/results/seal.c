/* seal.c: the results file's seal and its in-memory images. A results file
 * starts with a 512-byte HDF5 user block (which HDF5 and its tools skip) that
 * holds the SHA-256 and the size of the whole file after it; the writer fills
 * it in at commit, the reader checks it before libhdf5 parses a single byte,
 * so a truncated or damaged file never reaches HDF5's parser. Files are read
 * whole and opened from memory (core driver), so what was checked is what is
 * parsed. Never prints. */
#include "h5_internal.h"
#include "coop/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* First line of a sealed file; the version is the seal's, not the schema's. */
static const char seal_magic[] = "coop-results seal 1\n";

static void seal_digest(const unsigned char *img, size_t n, char hex[65])
{
    coop_sha256_hex(img + COOP_H5_USERBLOCK, n - COOP_H5_USERBLOCK, hex);
}

void coop_h5_seal(unsigned char *img, size_t n)
{
    char hex[65];
    seal_digest(img, n, hex);
    memset(img, 0, COOP_H5_USERBLOCK);
    snprintf((char *)img, COOP_H5_USERBLOCK, "%ssha256 %s\nbytes %zu\n", seal_magic, hex, n);
}

/* Parses "sha256 <64 hex>\nbytes <n>\n" after the magic; false when malformed. */
static bool parse_seal(const unsigned char *img, char hex[65], size_t *bytes)
{
    char head[COOP_H5_USERBLOCK + 1];
    memcpy(head, img, COOP_H5_USERBLOCK);
    head[COOP_H5_USERBLOCK] = 0;
    if (strncmp(head, seal_magic, strlen(seal_magic)) != 0)
        return false;
    const char *p = head + strlen(seal_magic);
    unsigned long long b;
    int used = 0;
    if (sscanf(p, "sha256 %64[0-9a-f]\nbytes %llu\n%n", hex, &b, &used) != 2 || used == 0 ||
        strlen(hex) != 64)
        return false;
    for (size_t i = (size_t)(p - head) + (size_t)used; i < COOP_H5_USERBLOCK; i++)
        if (head[i])
            return false;
    *bytes = (size_t)b;
    return (unsigned long long)*bytes == b;
}

static int check_seal(const char *path, const unsigned char *img, size_t n, struct coop_err *e)
{
    char want[65], got[65];
    size_t bytes;
    if (!parse_seal(img, want, &bytes))
        return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file (its seal in the first %d "
                         "bytes is unreadable)", path, COOP_H5_USERBLOCK);
    if (bytes != n)
        return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file: %zu bytes, but it was "
                         "written with %zu (truncated or appended to)", path, n, bytes);
    seal_digest(img, n, got);
    if (strcmp(want, got) != 0)
        return coop_fail(e, COOP_E_FORMAT, "%s: damaged results file: SHA-256 %.12s... does not "
                         "match the %.12s... it was written with", path, got, want);
    return 0;
}

static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static bool signature_at(const unsigned char *img, size_t n, size_t off)
{
    return off + sizeof hdf5_sig <= n && memcmp(img + off, hdf5_sig, sizeof hdf5_sig) == 0;
}

int coop_h5_load(const char *path, unsigned char **img, size_t *n, bool *sealed,
                 struct coop_err *e)
{
    char *buf;
    size_t len;
    *img = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size > COOP_H5_MAX_FILE)
        return coop_fail(e, COOP_E_FORMAT, "%s: %lld bytes: larger than any results file "
                         "(limit %zu)", path, (long long)st.st_size, COOP_H5_MAX_FILE);
    int rc = coop_read_file(path, COOP_H5_MAX_FILE, &buf, &len, e);
    if (rc)
        return rc;
    const unsigned char *u = (const unsigned char *)buf;
    /* Sealed files have their superblock after the seal; files from before the
     * seal have it at 0. Anything else is damage, also a damaged seal line. */
    *sealed = !signature_at(u, len, 0);
    if (*sealed && signature_at(u, len, COOP_H5_USERBLOCK))
        rc = check_seal(path, u, len, e);
    else if (*sealed)
        rc = coop_fail(e, COOP_E_FORMAT, "%s: not an HDF5 file (corrupt or truncated results "
                       "file)", path);
    if (rc) {
        free(buf);
        return rc;
    }
    *img = (unsigned char *)buf;
    *n = len;
    return 0;
}

/* The core driver refuses a name that exists on disk and treats two open
 * images of one name as one file: each image gets a name of its own under
 * /proc/self, where no file can be created. */
hid_t coop_h5_open_image(const void *img, size_t n)
{
    static unsigned long serial;
    char name[64];
    snprintf(name, sizeof name, "/proc/self/coop-results-image-%lu", ++serial);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return H5I_INVALID_HID;
    hid_t f = H5I_INVALID_HID;
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_file_image(fapl, (void *)img, n) >= 0)
        f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}
