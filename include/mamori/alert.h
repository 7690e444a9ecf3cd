/*
 * alert.h - the alert stream: every incident event (start / update / end,
 * from detector/incident.c) as one versioned JSON object (docs/alerts.md),
 * delivered to each configured output: a Redis Stream (capped) and a pub/sub
 * channel, JSON lines on stdout or a file, syslog, and an exec hook (a
 * program run with the JSON on stdin: no shell, a timeout, a concurrency
 * limit).  The detector owns incident state; outputs only deliver.
 */
#ifndef MAMORI_ALERT_H
#define MAMORI_ALERT_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/incident.h"

#define MM_ALERT_SCHEMA_VERSION 1
#define MM_ALERT_JSON_MAX 8192

/* One event as JSON (no newline), NUL-terminated; returns its length, or 0
 * if it does not fit.  step_s converts steps to Unix times. */
size_t mm_alert_json(enum mm_incident_event ev, const struct mm_incident *inc, uint32_t step_s,
		     const char *detector_id, char *buf, size_t len);

struct event_base;
struct mm_alert_outputs;

/* Outputs as the [alerts] section says; NULL with err filled on failure. */
struct mm_alert_outputs *mm_alert_outputs_new(struct event_base *base, const struct mm_config *cfg,
					      const char *detector_id, char *err, size_t errlen);
void mm_alert_outputs_free(struct mm_alert_outputs *o);
/* An mm_incident_fn: hand it to mm_incidents_new with the outputs as arg. */
void mm_alert_emit(void *outputs, enum mm_incident_event ev, const struct mm_incident *inc);
/* Run the loop until queued deliveries are done or timeout_ms passes. */
int mm_alert_outputs_drain(struct mm_alert_outputs *o, uint32_t timeout_ms);

struct mm_alert_stats {
	uint64_t events, stream_added, published, file_lines, syslog_lines;
	uint64_t hooks_run, hooks_failed, hooks_timed_out, hooks_skipped; /* skipped: concurrency limit */
	uint64_t redis_errors, dropped;
};
const struct mm_alert_stats *mm_alert_outputs_stats(const struct mm_alert_outputs *o);

#endif
