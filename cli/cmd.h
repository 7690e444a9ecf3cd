/*
 * cmd.h - the `mamori` subcommands that live in their own file.
 */
#ifndef MAMORI_CLI_CMD_H
#define MAMORI_CLI_CMD_H

#include <stdio.h>

#include "mamori/config.h"

/* mamori eval (cli/cmd_eval.c, docs/evaluation.md).  cfg: the file given
 * with -c, or NULL (eval needs no configuration).  Returns the exit
 * status: 0, 1 a floor not met, 2 usage or input error. */
int mm_cmd_eval(const struct mm_config *cfg, int argc, char **argv);
void mm_cmd_eval_usage(FILE *f);

/* mamori exabgp (cli/cmd_exabgp.c, docs/exabgp.md): the alert stream
 * as ExaBGP text API lines on stdout.  Returns the exit status. */
int mm_cmd_exabgp(const struct mm_config *cfg, int argc, char **argv);
void mm_cmd_exabgp_usage(FILE *f);

/* A synchronous Redis connection per [redis] (AUTH, SELECT done), or NULL
 * with the reason on stderr (cli/mamori.c). */
struct redisContext;
struct redisContext *mm_cli_redis_connect(const struct mm_config *cfg);
/* mamori deanon / anon (cli/cmd_deanon.c, docs/privacy.md): argv[0] says
 * which.  cfg: the file given with -c, or NULL.  Returns the exit status:
 * 0, 1 (the key or the log failed), 2 usage. */
int mm_cmd_deanon(const struct mm_config *cfg, int argc, char **argv);
void mm_cmd_deanon_usage(FILE *f);

/* ---- threshold sweeps (cli/cmd_sweep.c) ---- */

#include <stdint.h>
#include "mamori/eval.h"

#define SWEEP_MAX_KEYS 3
struct mm_sweep_key {
	char section[32];  /* "group" means every [group NAME] */
	char key[64];
	uint64_t from, to, step;
};
/* "SECTION.KEY=FROM:TO:STEP" (integers, FROM <= TO, STEP > 0, at most 256
 * values).  0, or -1. */
int mm_sweep_parse(const char *spec, struct mm_sweep_key *out);

struct mm_sweep_args {
	struct mm_sweep_key keys[SWEEP_MAX_KEYS];
	unsigned nkeys;
	const struct mm_eval_attack *attacks; /* the truth */
	size_t nattacks;
	const char *csv;      /* per setting and class, or NULL */
	const char *plots;    /* directory for the PNGs, or NULL */
	const char *detector; /* mamori-detector to run, NULL: beside mamori, else PATH */
	int keep;             /* keep the temporary configurations, alerts and logs */
};
/* Rerun the detector per setting (the product of the keys' values) over
 * what is in Redis, score each against the truth, print the table.
 * Returns 0, or 2 on an error. */
int mm_cmd_sweep(const struct mm_config *cfg, const struct mm_sweep_args *a);

/* One evaluation's per-class recall and precision, delays and false
 * alerts as PNGs in dir (gnuplot): eval-recall-precision.png,
 * eval-delay.png, eval-false.png.  0, or -1. */
int mm_eval_plot(const struct mm_eval *r, const char *dir);

/* Readers shared with the sweep (cli/cmd_eval.c); *v is malloc'd. */
int mm_eval_load_alerts(const char *path, struct mm_eval_event **v, size_t *n, uint64_t *step_s,
			unsigned long *bad);
int mm_eval_load_det_log(const char *path, uint64_t *hw);

#endif
