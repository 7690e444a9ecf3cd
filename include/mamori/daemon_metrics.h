/*
 * daemon_metrics.h - what each daemon exports on /metrics (metrics.h
 * serves it), one function per daemon, each fed a view of the daemon's
 * state.  The families and their meaning: docs/operations.md.
 */
#ifndef MAMORI_DAEMON_METRICS_H
#define MAMORI_DAEMON_METRICS_H

#include <stdint.h>
#include "mamori/alert.h"
#include "mamori/config.h"
#include "mamori/classes.h"
#include "mamori/metrics.h"
#include "mamori/reload.h"

struct mm_exporters;
struct mm_intake;
struct mm_nflog;
struct mm_pipeline;

struct mm_collector_status {
	const struct mm_config *cfg;
	struct mm_exporters *exps;
	struct mm_intake *intake;        /* NULL: none */
	struct mm_nflog *nflog;          /* NULL: none */
	struct mm_pipeline *pipe;        /* NULL: no Redis (dump) */
	uint64_t datagrams;              /* handed to the decoders' entry point */
	uint64_t rejected;               /* refused by a decoder */
	uint64_t records;                /* emitted by the decoders */
};
/* The collector's families (collector/prometheus.c). */
void mm_collector_metrics(struct mm_metrics_out *o, const struct mm_collector_status *s);

struct mm_det;
struct mm_detector_status {
	const struct mm_det *det;
	const struct mm_alert_stats *alerts;   /* the outputs' counters (earlier outputs included) */
	uint64_t events[MM_CLASS_COUNT][3];    /* incident events by class, start/update/end */
	int64_t open[MM_CLASS_COUNT];          /* incidents open by class */
	uint64_t steps, incomplete_steps, step_errors;
	double step_seconds_sum, step_seconds_last;
	uint64_t next_step;                    /* the next step to score */
	uint64_t redis_errors;                 /* reads and baseline writes that failed */
};
/* The detector's families (detector/prometheus.c). */
void mm_detector_metrics(struct mm_metrics_out *o, const struct mm_detector_status *s);

#endif
