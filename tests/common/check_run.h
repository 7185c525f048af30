/* tests/common/check_run.h: the end of every Check test program's main():
 * run the suite (CK_NORMAL output), free the runner, and turn the failure
 * count into the exit status meson reads. Header only, so no suite needs
 * another library: #include "../common/check_run.h". */
#ifndef COOP_TESTS_CHECK_RUN_H
#define COOP_TESTS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int coop_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
