/*
 * log.c - the one logging module (log.h).
 *
 * The only mutable global state in mamori lives here: the program name,
 * where lines go and the level.  Everything else passes its context down.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "mamori/log.h"

/* One formatted line at most; longer ones are truncated, never split. */
#define LOG_LINE_MAX 1024

static const char *log_ident = "mamori";
static int log_foreground = 1; /* stderr until mm_log_init says otherwise */
static int log_lvl = MM_LOG_INFO;

static const char *const level_names[] = {
	[MM_LOG_ERR] = "error",
	[MM_LOG_WARN] = "warn",
	[MM_LOG_INFO] = "info",
	[MM_LOG_DEBUG] = "debug",
};

static int clamp_level(int level)
{
	if (level < MM_LOG_ERR)
		return MM_LOG_ERR;
	if (level > MM_LOG_DEBUG)
		return MM_LOG_DEBUG;
	return level;
}

void mm_log_init(const char *ident, int foreground, int level)
{
	if (!log_foreground)
		closelog();
	log_ident = ident != NULL ? ident : "mamori";
	log_foreground = foreground != 0;
	log_lvl = clamp_level(level);
	/* LOG_NDELAY: connect now, before a chroot or privilege drop can
	 * make /dev/log unreachable. */
	if (!log_foreground)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void mm_log_set_level(int level)
{
	log_lvl = clamp_level(level);
}

int mm_log_level(void)
{
	return log_lvl;
}

int mm_log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *mm_log_level_name(int level)
{
	if (level < MM_LOG_ERR || level > MM_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

/*
 * Format and emit one line.  `tag` is the foreground prefix ("warning: ");
 * `err` is an errno value to append (0 = none).
 */
static void log_emit(int prio, const char *tag, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0) {
		line[0] = '\0';
		n = 0;
	}
	if (err != 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(err));
	if (log_foreground) {
		/* One fprintf so that concurrent writers do not interleave
		 * inside a line (stderr is unbuffered). */
		fprintf(stderr, "%s: %s%s\n", log_ident, tag, line);
	} else {
		syslog(prio, "%s", line);
	}
}

#define LOG_BODY(min, prio, tag, err)                          \
	do {                                                   \
		int saved_ = errno;                            \
		va_list ap_;                                   \
		if (log_lvl < (min))                           \
			return;                                \
		va_start(ap_, fmt);                            \
		log_emit((prio), (tag), (err) ? saved_ : 0, fmt, ap_); \
		va_end(ap_);                                   \
		errno = saved_;                                \
	} while (0)

void mm_fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void mm_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void mm_warn(const char *fmt, ...)
{
	LOG_BODY(MM_LOG_WARN, LOG_WARNING, "warning: ", 1);
}

void mm_warnx(const char *fmt, ...)
{
	LOG_BODY(MM_LOG_WARN, LOG_WARNING, "warning: ", 0);
}

void mm_info(const char *fmt, ...)
{
	LOG_BODY(MM_LOG_INFO, LOG_INFO, "", 0);
}

void mm_debug(const char *fmt, ...)
{
	LOG_BODY(MM_LOG_DEBUG, LOG_DEBUG, "debug: ", 0);
}

void mm_ratelimit_init(struct mm_ratelimit *rl, double per_sec, double burst)
{
	rl->per_sec = per_sec > 0 ? per_sec : 0;
	rl->burst = burst > 0 ? burst : 0;
	rl->tokens = rl->burst; /* start full: the first lines get through */
	rl->last_ms = 0;
	rl->suppressed = 0;
}

int mm_ratelimit_ok(struct mm_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	/*
	 * A clock that steps back gives no refill, and its new reading
	 * becomes the reference, so a backwards step can never freeze the
	 * bucket until the old time comes round again.  The first call after
	 * init refills from 0, which is harmless: tokens are capped at burst.
	 */
	if (now_ms > rl->last_ms) {
		rl->tokens += (double)(now_ms - rl->last_ms) * rl->per_sec / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
	}
	rl->last_ms = now_ms;
	/* The epsilon absorbs rounding in the refill (0.1/s over 10 s must
	 * give a whole token). */
	if (rl->tokens >= 1.0 - 1e-9) {
		rl->tokens -= 1.0;
		if (rl->tokens < 0)
			rl->tokens = 0;
		if (suppressed != NULL)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

const char *mm_sanitize_hex(const uint8_t *p, size_t len, size_t max, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n, avail, o = 0;

	if (out == NULL || outlen == 0)
		return "";
	avail = outlen - 1;
	n = len < max ? len : max;
	if (p == NULL)
		n = len = 0;
	/* Truncated samples end in "..." so that a reader never mistakes a
	 * prefix for the whole thing. */
	if (2 * n > avail || (n < len && 2 * n + 3 > avail)) {
		n = avail >= 3 ? (avail - 3) / 2 : avail / 2;
		if (n > len)
			n = len;
	}
	for (size_t i = 0; i < n; i++) {
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0x0f];
	}
	if (n < len && o + 3 <= avail) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *mm_sanitize_text(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n, avail, o = 0;

	if (out == NULL || outlen == 0)
		return "";
	if (s == NULL)
		len = 0;
	avail = outlen - 1;
	n = len;
	if (n > avail)
		n = avail >= 3 ? avail - 3 : avail;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		/* Printable ASCII only: no control characters or escape
		 * sequences from the wire reach a terminal or syslog. */
		out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (n < len && o + 3 <= avail) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
