/*
 * metrics.h - the HTTP endpoint both daemons serve on their event loop
 * (libevent's evhttp): GET /metrics in the Prometheus text exposition
 * format (version 0.0.4) and GET /healthz.  What is exported is the
 * daemon's business (a fill callback writing families through the
 * mm_metric_* calls); this module only serves, formats and escapes.
 *
 * Unauthenticated and plain HTTP: bind it to a loopback or management
 * address ([collector] metrics, [detector] metrics).  Requests are bounded
 * (GET and HEAD only, 8 KiB of headers, no body, 10 s timeout).
 */
#ifndef MAMORI_METRICS_H
#define MAMORI_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"

/* The page being written (a growing buffer). */
struct mm_metrics_out {
	char *buf;
	size_t len, cap;
	int oom;               /* a write failed for memory: the page is cut */
};

/* `# HELP` and `# TYPE` of a family (type: counter, gauge, summary). */
void mm_metric_family(struct mm_metrics_out *o, const char *name, const char *type, const char *help);
/* One sample: name, labels (pairs key, value, ..., NULL; values escaped
 * here), value.  Integers print exactly; doubles with %.17g (NaN, +Inf,
 * -Inf as Prometheus spells them). */
void mm_metric_u64(struct mm_metrics_out *o, const char *name, uint64_t v, ...) __attribute__((sentinel));
void mm_metric_f64(struct mm_metrics_out *o, const char *name, double v, ...) __attribute__((sentinel));

struct mm_reload_stats;
/* What every daemon exports first: mamori_build_info, the start time,
 * reloads (applied, failed, last success). */
void mm_metrics_process(struct mm_metrics_out *o, const char *prog, const char *version, uint64_t start_s,
			const struct mm_reload_stats *reload);

/* Writes the page's families; called per scrape. */
typedef void (*mm_metrics_fill_fn)(void *arg, struct mm_metrics_out *o);
/* 0 healthy, else not, with why (one line) filled. */
typedef int (*mm_health_fn)(void *arg, char *why, size_t len);

/* The page as a NUL-terminated malloc'd string (tests, and the server);
 * NULL on no memory. */
char *mm_metrics_render(mm_metrics_fill_fn fill, void *arg, size_t *len);

struct event_base;
struct mm_metrics;
/* Listen on addr (TCP; do it while privileged if the port needs it) and
 * serve on base.  NULL with err filled on failure. */
struct mm_metrics *mm_metrics_new(struct event_base *base, const struct mm_listen *addr, mm_metrics_fill_fn fill,
				  mm_health_fn health, void *arg, char *err, size_t errlen);
void mm_metrics_free(struct mm_metrics *m);
/* The port bound (the kernel's choice for port 0). */
uint16_t mm_metrics_port(const struct mm_metrics *m);
/* The address it was made for (to tell whether a reload moves it). */
const struct mm_listen *mm_metrics_listen(const struct mm_metrics *m);
/* A (re)load's server for `want`: `running` when it stays at that address,
 * a new one when it moves or starts (*fresh = 1; the caller frees the old
 * one once committed), NULL when `want` is empty.  -1, logged, when the
 * new one cannot listen. */
int mm_metrics_for(struct event_base *base, struct mm_metrics *running, const struct mm_listen *want,
		   mm_metrics_fill_fn fill, mm_health_fn health, void *arg, struct mm_metrics **out, int *fresh);

#endif
