/* image_test.h: helpers shared by the image test files (synthetic images that
 * tests/fixtures/gen_image.py builds identically, fixture paths). */
#ifndef COOP_IMAGE_TEST_H
#define COOP_IMAGE_TEST_H

#include "coop/image.h"
#include <check.h>

struct synth_params {
    uint64_t seed;
    int w, h, kx, ky, kc, amp, bs;
};
/* Builds the synthetic image of gen_image.py's synth() in the named mode. */
int synth_image(struct coop_image *img, const char *mode, const struct synth_params *p);
/* Path of a fixture file (static buffer). */
const char *fixture_path(const char *name);
void sha_hex(const void *data, size_t n, char out[65]);
int under_valgrind(void);

TCase *golden_tcase(void);

#endif
