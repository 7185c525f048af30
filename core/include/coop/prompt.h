/* coop/prompt.h: inspecting and exporting a trial's learned prompt
 * (coop-prompt; docs/running.md "Inspecting learned prompts", the prompt
 * file's schema in docs/results.md). Library code: prints only to the FILE
 * it is given, never exits. */
#ifndef COOP_PROMPT_H
#define COOP_PROMPT_H

#include "coop/common.h"
#include "coop/loader.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct coop_prompt_request {
    const char *file; /* a trial's results file or a prompt file */
    int top_k;        /* nearest tokens per context vector; <= 0: 5 */
    bool by_l2;       /* rank by L2 distance instead of cosine similarity */
    /* class-specific context: only this class (its name, or its 1-based
     * index); NULL: every class */
    const char *cls;
};

/* Loads the trial's backbone and prints every learned context vector (per
 * class for class-specific context) with its top_k nearest rows of the token
 * embedding table, with cosine similarity and L2 distance, the tokens shown
 * readably (coop_prompt_token_text). Returns 0, or an error naming the file. */
COOP_API int coop_prompt_show(const struct coop_prompt_request *q,
                              const struct coop_registry *reg, FILE *out, struct coop_err *e);

/* Writes the learned context of results_file (a prompt trial's file, or a
 * prompt file) to out_path, which must end in ".h5": a small sealed HDF5 file
 * (format "coop-prompt", version 1, docs/results.md) that coop-eval --prompt
 * evaluates. An existing out_path is replaced. Loads no backbone. */
COOP_API int coop_prompt_export(const char *results_file, const char *out_path,
                                struct coop_err *e);

/* A raw byte-level BPE vocabulary entry (GPT-2 byte-to-unicode characters,
 * "</w>" at a word's end) as readable text in out[len]: the bytes decoded,
 * valid UTF-8 kept, space, control bytes, invalid UTF-8 and '\' escaped
 * (\xNN, \\), and a trailing '-' when the token does not end a word ("pho-",
 * "photo"); special tokens (<|endoftext|>) as they are.
 * Returns the length the full text needs (as snprintf). */
COOP_API size_t coop_prompt_token_text(const char *raw, char *out, size_t len);

#endif
