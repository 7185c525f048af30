/* core/clip/bpe.h (internal): the tokenizer's state, shared by bpe.c
 * (loading) and bpe_encode.c (pre-tokenising, merging, cache, decode). */
#ifndef COOP_CLIP_BPE_H
#define COOP_CLIP_BPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIP_N_MERGES (49152 - 256 - 2)
#define COOP_BPE_CACHE_SLOTS 65536 /* cache holds at most half as many tokens */

struct cache_entry {
    char *key;
    int32_t *ids;
    int n;
};

struct coop_tokenizer {
    char **tok;                 /* id -> vocabulary string (UTF-8) */
    int n;
    int32_t *vmap;              /* open addressing: string -> id, -1 empty */
    size_t vcap;
    uint64_t *pkey;             /* pair (a << 32 | b) + 1, 0 empty */
    int32_t *prank, *pmerged;
    size_t pcap;
    int32_t byte_id[256], byte_end_id[256];
    int16_t cp_byte[512];       /* byte-to-unicode inverse; -1 if none */
    int32_t sot, eot;
    pthread_mutex_t lock;       /* guards the cache */
    struct cache_entry *cache;
    size_t ccap, cn;
};

/* id of the vocabulary string s[0..len), or -1. */
int32_t coop_bpe_vocab_lookup(const struct coop_tokenizer *t, const char *s, size_t len);
/* Rank of the pair (a, b) and its merged id, INT_MAX when not a merge. */
int coop_bpe_pair_rank(const struct coop_tokenizer *t, int32_t a, int32_t b, int32_t *merged);
uint64_t coop_bpe_hash_str(const char *s, size_t n);
/* The next pre-token ("word") of cleaned code points s[0..n) from *i on:
 * writes its UTF-8 bytes to u (room for 4 * n bytes suffices), advances *i
 * past it and returns the byte count; 0 at the end. Skipped code points
 * (whitespace) are passed over. Encoding and the BPE learner
 * (core/pretrain/bpe_learn.c) split words with this one function. */
size_t coop_bpe_next_word(const uint32_t *s, size_t n, size_t *i, char *u);
/* CLIP's bytes_to_unicode(): printable bytes map to themselves, the rest to
 * 256 + k in byte order; order[] receives the vocabulary order of the 256 byte
 * symbols. Shared by the tokenizer and the BPE learner (pretraining). */
void coop_bpe_bytes_to_unicode(uint32_t cp[256], int order[256]);

#endif
