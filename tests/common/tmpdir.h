/* tests/common/tmpdir.h: a test program's scratch folder: make
 * $TMPDIR/coop-test-<name>-XXXXXX (TMPDIR unset: /tmp) with mkdtemp, and
 * remove it again with everything in it. Header only, like check_run.h:
 * #include "../common/tmpdir.h". */
#ifndef COOP_TESTS_TMPDIR_H
#define COOP_TESTS_TMPDIR_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes the folder and leaves its path in buf (len bytes); 0, or -1 after
 * perror("mkdtemp") when the path does not fit or mkdtemp fails. */
static inline int coop_test_tmpdir(char *buf, size_t len, const char *name)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int n = snprintf(buf, len, "%s/coop-test-%s-XXXXXX", base, name);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        perror("mkdtemp");
        return -1;
    }
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* rm -rf dir (single-quoted for the shell, quotes inside escaped); 0, or -1
 * after "could not remove DIR" on stderr. */
static inline int coop_test_rmtree(const char *dir)
{
    char cmd[4200] = "rm -rf '";
    size_t k = 8;
    for (const char *p = dir; *p; p++) {
        if (k + 5 >= sizeof cmd) {
            fprintf(stderr, "could not remove %s\n", dir);
            return -1;
        }
        if (*p == '\'') {
            memcpy(cmd + k, "'\\''", 4); /* close, escaped quote, reopen */
            k += 4;
        } else {
            cmd[k++] = *p;
        }
    }
    cmd[k++] = '\'';
    cmd[k] = '\0';
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
        return -1;
    }
    return 0;
}

#endif
