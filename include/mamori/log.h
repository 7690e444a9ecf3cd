/*
 * log.h - the one logging module both daemons use.
 *
 * stderr when in the foreground, syslog otherwise.  The level is checked
 * before anything is formatted, so a disabled debug line costs a compare.
 * Bad input is logged through a rate limiter (mm_ratelimit) with a short
 * sanitised sample (mm_sanitize), never the raw bytes.
 */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <stddef.h>
#include <stdint.h>

enum mm_log_level { MM_LOG_ERR = 0, MM_LOG_WARN, MM_LOG_INFO, MM_LOG_DEBUG };

/* ident: program name; foreground: 1 = stderr, 0 = syslog. */
void mm_log_init(const char *ident, int foreground, int level);
void mm_log_set_level(int level);
int mm_log_level(void);
/* Parse "error|warn|info|debug"; -1 when unknown. */
int mm_log_level_parse(const char *s);
/* The name mm_log_level_parse accepts for `level` ("unknown" if none). */
const char *mm_log_level_name(int level);

#define MM_PRINTF(a, b) __attribute__((format(printf, a, b)))
void mm_fatal(const char *fmt, ...) MM_PRINTF(1, 2) __attribute__((noreturn)); /* + strerror(errno), exit 1 */
void mm_fatalx(const char *fmt, ...) MM_PRINTF(1, 2) __attribute__((noreturn));
void mm_warn(const char *fmt, ...) MM_PRINTF(1, 2);  /* appends strerror(errno) */
void mm_warnx(const char *fmt, ...) MM_PRINTF(1, 2);
void mm_info(const char *fmt, ...) MM_PRINTF(1, 2);
void mm_debug(const char *fmt, ...) MM_PRINTF(1, 2);

/* Token bucket for rate-limited warnings: at most `burst` lines, refilled at
 * `per_sec` lines per second; suppressed lines are counted and reported on
 * the next line that gets through. */
struct mm_ratelimit {
	double tokens;
	double per_sec;
	double burst;
	uint64_t last_ms;
	uint64_t suppressed;
};
void mm_ratelimit_init(struct mm_ratelimit *rl, double per_sec, double burst);
/* 1 = log now (and *suppressed, if not NULL, gets the count skipped
 * since), 0 = skip.  now_ms: any millisecond clock; a backwards step gives
 * no refill.  The bucket starts full. */
int mm_ratelimit_ok(struct mm_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

/* Hex sample of at most `max` bytes of untrusted input into out (NUL-ended).
 * A sample shorter than `len` (by `max` or by outlen) ends in "...".
 * Both return `out` ("" when outlen is 0). */
const char *mm_sanitize_hex(const uint8_t *p, size_t len, size_t max, char *out, size_t outlen);
/* Copy untrusted text, replacing non-printables with '?', truncating
 * (with "...") to fit outlen.  Exactly `len` bytes are read: a NUL inside
 * is shown as '?'. */
const char *mm_sanitize_text(const char *s, size_t len, char *out, size_t outlen);

#endif
