/* claim.h: trial claims on shared storage (internal to core/run). Before a
 * trial starts, its runner claims it in the results folder, so any number of
 * coop-run processes on one or many hosts over the same folder compute each
 * trial once. A claim is a generation file <dir>/.<id>.claim-<n>, made with
 * link(2) (atomic on local file systems and NFS alike) from a temporary file
 * holding host, pid namespace, pid, start time and Slurm task; its mtime is
 * the heartbeat, touched by a thread while the trial runs. The holder of the
 * highest generation owns the trial; a dead generation (released, its pid
 * gone on this host, or its heartbeat older than the timeout) is taken over
 * by linking the next one. docs/cluster.md describes the protocol. */
#ifndef COOP_RUN_CLAIM_H
#define COOP_RUN_CLAIM_H

#include "coop/common.h"
#include <stdbool.h>
#include <stddef.h>

/* Default heartbeat period and the age after which a heartbeat is stale. */
#define COOP_CLAIM_HEARTBEAT_S 30
#define COOP_CLAIM_TIMEOUT_S 300

enum claim_holder_state {
    CLAIM_NONE = 0,  /* no claim file */
    CLAIM_ALIVE = 1, /* held: heartbeat fresh (and, on this host, its pid runs) */
    CLAIM_DEAD = 2,  /* released, or its holder is gone or silent */
};

/* What a claim file says about its holder. */
struct claim_holder {
    enum claim_holder_state state;
    int generation;
    char host[256];
    long pid;
    char slurm[64];     /* "<job>_<task>" or "<job>" or "" */
    double age;         /* seconds since the last heartbeat */
    bool released;
    bool local;         /* on this host and in this pid namespace: pid means a process here */
    char why[96];       /* why a dead claim is dead */
};

struct claim;

/* Whether h's process is a sibling of this one: a local holder whose parent
 * is ours (another worker of the same coop-run --jobs). */
bool coop_claim_sibling(const struct claim_holder *h);

/* Claims trial id in dir. Returns 0 with *out the held claim (release with
 * coop_claim_release), or 0 with *out NULL when a live holder has it (described in
 * *holder, may be NULL); an error when the folder cannot be written. timeout_s
 * <= 0 takes COOP_CLAIM_TIMEOUT_S; the heartbeat runs every timeout_s / 10
 * seconds (at most COOP_CLAIM_HEARTBEAT_S). */
int coop_claim_acquire(const char *dir, const char *id, double timeout_s, struct claim **out,
                  struct claim_holder *holder, struct coop_err *e);
/* Whether c is still the trial's claim: false once another process took it
 * over (this one's heartbeat was seen as stale) or its file went away. */
bool coop_claim_held(struct claim *c);
/* Stops the heartbeat and gives the claim up. completed: the trial's results
 * are complete, so every generation file of the trial is removed; otherwise
 * the claim is marked released (kept, so the generations stay contiguous).
 * NULL is a no-op. */
void coop_claim_release(struct claim *c, bool completed);

/* The file system's time in dir (the mtime of a file written there), for
 * coop_claim_inspect; the host's clock when dir cannot be written. */
double coop_claim_clock(const char *dir);
/* The current holder of trial id in dir at time now (coop_claim_clock): the
 * highest generation, CLAIM_NONE when there is no claim file; judged as
 * coop_claim_acquire would. */
int coop_claim_inspect(const char *dir, const char *id, double timeout_s, double now,
                  struct claim_holder *h, struct coop_err *e);
/* Removes every claim file of trial id in dir (its results are complete). */
void coop_claim_remove_all(const char *dir, const char *id);

#endif
