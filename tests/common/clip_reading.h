/* tests/common/clip_reading.h: how many vocabulary entries OpenAI's CLIP
 * (clip/simple_tokenizer.py) makes of a gzip'd merges file, counted by its own
 * reading rules, so tests can hold a vocabulary coop writes to the rows of the
 * checkpoint's token embedding. It must not share code with the project's
 * tokenizer: it is the other reader. Header only: #include "../common/clip_reading.h".
 *
 * The rules: merges = gzip.open(path).read().decode("utf-8").split('\n');
 * merges = merges[1:49152-256-2+1]; vocab = the 256 byte characters, the same
 * with '</w>', one entry per merge (an empty string counts), then
 * '<|startoftext|>' and '<|endoftext|>'. The end-of-text id is len(vocab) - 1. */
#ifndef COOP_TESTS_CLIP_READING_H
#define COOP_TESTS_CLIP_READING_H

#include <stddef.h>
#include <zlib.h>

/* len(vocab) under CLIP's rules, or -1 when path cannot be read as gzip. */
static inline long coop_test_clip_vocab_len(const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return -1;
    char buf[8192];
    long pieces = 1; /* str.split('\n') gives one piece more than there are '\n' */
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0)
        for (int i = 0; i < n; i++)
            pieces += buf[i] == '\n';
    int zerr;
    gzerror(f, &zerr);
    gzclose(f);
    if (n < 0 || zerr != Z_OK)
        return -1;
    const long hi = 49152 - 256 - 2 + 1; /* the slice [1:hi], clipped to the list */
    long merges = (pieces < hi ? pieces : hi) - 1;
    return 256 + 256 + merges + 2;
}

#endif
