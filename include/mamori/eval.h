/*
 * eval.h - matching the detector's alerts to the generator's ground truth
 * and the evaluation table (`mamori eval`, docs/evaluation.md).
 *
 * Pure: parsed rows in (attacks from the ground truth, events from the
 * alert JSON lines), incidents, verdicts and the table out.  No I/O, no
 * clock, no globals; the caller reads and canonicalises the files
 * (addresses and prefixes spelt as the alerts spell them) and prints.
 *
 * Steps are Unix seconds / step_s, as in the alerts.  An attack runs from
 * the step holding its start to the step holding its last millisecond.
 * An incident is every event with one id (start, updates, end; an adopted
 * incident may have no start).  It matches an attack when the class and
 * the host (carpet bombing: the prefix) are equal and its first step lies
 * in [attack's first step, attack's last step + grace], grace being the
 * window for the fast classes and the slow window for the slow ones.  A
 * brute-force incident with vector "target" on the attack's target (the
 * truth's peer; any host when the truth names none) is a secondary match,
 * counted apart.  Every other incident is a false alert.  With any_class
 * the class is not compared (the host and the time still are): a matched
 * incident takes its attack's class, the grace is the attack's.
 */
#ifndef MAMORI_EVAL_H
#define MAMORI_EVAL_H

#include <stddef.h>
#include <stdint.h>

#define MM_EVAL_KEY_MAX 64 /* address or prefix text, NUL included */
#define MM_EVAL_VEC_MAX 24
#define MM_EVAL_ID_MAX 40

/* One ground-truth row (docs/generator.md, "Ground truth"). */
struct mm_eval_attack {
	int cls;                      /* enum mm_class */
	char key[MM_EVAL_KEY_MAX];    /* victim or source address; carpet bombing: prefix */
	char peer[MM_EVAL_KEY_MAX];   /* the attacked host of a source class (brute force's
	                                 target), "" when the truth does not say */
	char vector[MM_EVAL_VEC_MAX]; /* the truth's vector column, "-" for none */
	uint64_t start_ms, end_ms;    /* Unix milliseconds; end >= start */
	double strength;              /* sampled packets per second at full strength */
};

enum mm_eval_ev { MM_EVAL_START = 0, MM_EVAL_UPDATE, MM_EVAL_END };

/* One alert event (docs/alerts.md). */
struct mm_eval_event {
	enum mm_eval_ev ev;
	char id[MM_EVAL_ID_MAX];      /* the incident's id; events with one id are one incident */
	int cls;                      /* enum mm_class */
	char key[MM_EVAL_KEY_MAX];    /* host, or prefix */
	char vector[MM_EVAL_VEC_MAX]; /* "" for null */
	int act;                      /* tier: 1 act, 0 investigate */
	uint64_t first_step, last_step;
	uint64_t end_step;            /* only for MM_EVAL_END */
};

struct mm_eval_params {
	uint32_t step_s;            /* seconds per step (> 0) */
	uint32_t window_steps;      /* grace for the fast classes */
	uint32_t slow_window_steps; /* grace for the slow classes */
	uint64_t host_windows;      /* host-windows scored, for false alerts per million; 0 unknown */
	int any_class;              /* class-agnostic matching, for a detector that does not
	                               classify (FastNetMon's bans): the class need not be equal,
	                               and a matched incident is counted under its attack's class */
};

/* An incident: the events of one id, folded. */
struct mm_eval_incident {
	char id[MM_EVAL_ID_MAX];
	int cls;
	char key[MM_EVAL_KEY_MAX];
	char vector[MM_EVAL_VEC_MAX]; /* of its first event */
	int act;                      /* highest tier of its events */
	int has_start, has_end;
	uint64_t first_step, last_step, end_step;
	unsigned events;              /* start + update + end */
	long attack;                  /* index of the matched attack, -1: false alert */
	int secondary;                /* matched as brute force's target-side view */
};

/* The verdict on one attack. */
struct mm_eval_verdict {
	uint64_t first_step, last_step; /* the steps it ran */
	unsigned incidents;             /* primary incidents matched (0: missed; > 1: extras) */
	unsigned secondary;             /* target-side brute-force incidents matched */
	unsigned events;                /* events of its primary incidents */
	long first_incident;            /* the earliest primary incident, -1 none */
	int64_t delay;                  /* steps: first incident's first step - first_step */
	int ended;                      /* every primary incident has its end */
	int64_t time_to_end;            /* steps: the last end_step - last_step (when ended) */
	int vector_ok;                  /* amplification: the first incident named the truth's vector */
};

/* One row of the table.  Undefined figures are NaN (no attacks, no
 * incidents, unknown host-windows, no delays). */
struct mm_eval_row {
	int cls;             /* enum mm_class; -1: all classes */
	int by_strength;     /* a row of one strength within its class */
	double strength;     /* the row's strength; a class row: its attacks' one strength, NaN when they differ */
	unsigned attacks, detected, missed;
	unsigned incidents;  /* all incidents of the row (strength rows: those matched to its attacks) */
	unsigned matched;    /* primary incidents matched */
	unsigned extra;      /* primary incidents beyond the first on an attack */
	unsigned secondary;  /* brute force's target-side view */
	unsigned false_act, false_inv; /* unmatched incidents by tier (NaN-free: 0 on strength rows) */
	unsigned events;     /* events of the matched primary and the false incidents */
	unsigned open;       /* detected attacks with an incident never ended */
	unsigned vector_ok, vector_n; /* amplification: vector named right, out of */
	double recall;       /* detected / attacks */
	double precision;    /* (matched + secondary) / incidents */
	double false_act_per_m, false_inv_per_m; /* per million host-windows */
	double alerts_per_incident; /* incidents raised (the matched primary ones, extras
				     * included, and the false ones) / (detected + false
				     * incidents): 1 = one alert per incident (the brief) */
	double events_per_incident; /* events (start + update + end) / the same */
	double delay_median, delay_p95, time_to_end_median; /* steps */
};

struct mm_eval {
	struct mm_eval_incident *inc;  /* ninc, ordered by first step, then id */
	size_t ninc;
	struct mm_eval_verdict *verdict; /* one per attack, in the attacks' order */
	size_t natt;
	struct mm_eval_row *rows;      /* per class (strength rows first when the
	                                  strength varies), then the overall row */
	size_t nrows;
	unsigned conflicts;            /* events whose class or host differs from their id's first */
};

/* Matches and aggregates.  Returns a new result (free with mm_eval_free),
 * or NULL with a reason in err (bad parameters, a class out of range, out
 * of memory).  Neither input array is kept. */
struct mm_eval *mm_eval_run(const struct mm_eval_params *p, const struct mm_eval_attack *a, size_t na,
			    const struct mm_eval_event *e, size_t ne, char *err, size_t errlen);
void mm_eval_free(struct mm_eval *r);

/* A truth file's class column: the class (enum mm_class), MM_EVAL_UNMATCHED
 * for "unmatched" (labelled traffic of no class of ours, written by
 * mamori-import: read, counted, not scored), or -1 when unknown. */
#define MM_EVAL_UNMATCHED (-2)
int mm_eval_truth_class(const char *name);

/* A benign look-alike of the ground truth (class "benign": a flash crowd,
 * a CDN download, a backup, update checks; docs/scenarios.md). */
struct mm_eval_lookalike {
	char key[MM_EVAL_KEY_MAX];    /* the host, or a prefix (update checks) */
	uint64_t start_ms, end_ms;
};

/* The false alerts of r that fall on a look-alike: an unmatched,
 * non-secondary incident whose key is the look-alike's host (or an
 * address inside its prefix) and whose first step lies in [the
 * look-alike's first step, its last step + the slow window].  Returns
 * their number; *act (when not NULL) gets those of tier act. */
unsigned mm_eval_lookalike_false(const struct mm_eval *r, const struct mm_eval_params *p,
				 const struct mm_eval_lookalike *l, size_t nl, unsigned *act);

/* Is the class one of the slow ones (scans, brute force, exfiltration)? */
int mm_eval_slow_class(int cls);
/* The overall row (always the last). */
const struct mm_eval_row *mm_eval_overall(const struct mm_eval *r);

#endif
