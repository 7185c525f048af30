/* text_internal.h: knobs of the text tower visible to the unit tests only
 * (libcoop's static archive), not part of the public API. */
#ifndef COOP_TEXT_INTERNAL_H
#define COOP_TEXT_INTERNAL_H

#include <stddef.h>

/* A tape larger than this keeps only each layer's input and recomputes the
 * layer in the backward. Tests lower it to exercise that path. */
extern size_t coop_text_tape_budget_bytes;

#endif
