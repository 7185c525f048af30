/* slurm_cli.h: coop-run --slurm, the command-line side (slurm_cli.c). */
#ifndef COOP_RUN_SLURM_CLI_H
#define COOP_RUN_SLURM_CLI_H

#include "coop/matrix.h"
#include "coop/slurm.h"
#include <stdbool.h>

/* Exit status when sbatch is missing or fails. */
#define COOP_RUN_EXIT_SBATCH 3

struct slurm_cli {
    bool on, no_submit;
    const char *sbatch;           /* the program; NULL = sbatch on PATH */
    struct coop_slurm_config set; /* flags: override the YAML's slurm: section */
    const char *opts[64];         /* --sbatch-option */
    size_t n_opts;
    /* what every task's coop-run gets as well */
    const char *cache, *claim_timeout;
    const char *const *plugin_paths;
    size_t n_plugin_paths;
};

/* Parses argv[*i] when it is one of --slurm's flags (advancing *i past its
 * value): 1 taken, 0 not one of them, -1 bad value (after a message). */
int slurm_cli_flag(struct slurm_cli *s, int argc, char **argv, int *i);
/* Writes (and unless no_submit, submits) the array over the incomplete
 * trials among keep and the report job. Returns the exit status. */
int slurm_cli_run(struct slurm_cli *s, const char *yaml, const struct coop_matrix *m,
                  const unsigned char *keep);

#endif
