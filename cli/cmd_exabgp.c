/*
 * cmd_exabgp.c - `mamori exabgp`: the alert stream (docs/alerts.md) as
 * ExaBGP text API lines on stdout (common/exabgp.c makes them), for
 * ExaBGP to read from a process it runs (docs/exabgp.md):
 *
 *   process mamori { run /usr/local/bin/mamori -c /etc/mamori/mamori.conf exabgp; encoder text; }
 *
 * At start the stream's history is replayed silently to learn which
 * routes are due (incidents started and not ended), and those are
 * announced (ExaBGP may have started afresh; announcing a route it has is
 * harmless); then new events are followed (XREAD BLOCK).  ExaBGP's
 * answers on stdin (done / error / shutdown) are read between turns: an
 * error is logged with the line it answers, shutdown or the end of a
 * piped stdin (ExaBGP gone) ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "mamori/exabgp.h"
#include "mamori/log.h"

#define HISTORY_BATCH 1000
#define ACK_RING 64 /* lines remembered to say which one ExaBGP refused */

static volatile sig_atomic_t stop_feed;

static void on_stop(int sig)
{
	(void)sig;
	stop_feed = 1;
}

struct feed {
	struct mm_exabgp *x;
	int dry_run;
	int write_failed;
	struct mm_ratelimit bad_rl;
	uint64_t bad;                       /* stream entries that are not alerts */
	char sent[ACK_RING][MM_EXABGP_LINE_MAX];
	unsigned sent_head, sent_n;         /* lines not yet acknowledged */
	char in[4096];                      /* partial line from stdin */
	size_t inlen;
	int stdin_piped;
};

void mm_cmd_exabgp_usage(FILE *f)
{
	fprintf(f, "       mamori [-c FILE] exabgp [--dry-run] [--no-history]\n"
		   "  exabgp           incident starts and ends as ExaBGP announce / withdraw lines on stdout\n"
		   "                   ([exabgp] section; run by ExaBGP as a process, docs/exabgp.md)\n"
		   "    --dry-run      log the lines on stderr instead\n"
		   "    --no-history   do not rebuild the routes due from the stream's history\n");
}

static void out_line(void *arg, const char *line)
{
	struct feed *fd = arg;

	if (fd->dry_run) {
		mm_info("dry-run: %s", line);
		return;
	}
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
		fd->write_failed = 1;
		return;
	}
	mm_info("sent: %s", line);
	snprintf(fd->sent[(fd->sent_head + fd->sent_n) % ACK_RING], MM_EXABGP_LINE_MAX, "%s", line);
	if (fd->sent_n < ACK_RING)
		fd->sent_n++;
	else
		fd->sent_head = (fd->sent_head + 1) % ACK_RING; /* too far behind to tell: forget the oldest */
}

/* One stream entry: [id, [field, value, ...]]; last_id follows it. */
static void entry(struct feed *fd, const redisReply *e, char *last_id, size_t idlen, int quiet)
{
	const redisReply *fv;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return;
	snprintf(last_id, idlen, "%s", e->element[0]->str);
	fv = e->element[1];
	for (size_t i = 0; fv->type == REDIS_REPLY_ARRAY && i + 1 < fv->elements; i += 2) {
		const redisReply *k = fv->element[i], *v = fv->element[i + 1];
		struct mm_exabgp_event ev;
		const char *why;

		if (k->type != REDIS_REPLY_STRING || strcmp(k->str, "json") != 0 || v->type != REDIS_REPLY_STRING)
			continue;
		why = memchr(v->str, '\0', v->len) != NULL ? "NUL byte" : mm_exabgp_event_parse(v->str, &ev);
		if (why != NULL) {
			char sample[80];
			uint64_t suppressed = 0;

			fd->bad++;
			if (mm_ratelimit_ok(&fd->bad_rl, (uint64_t)time(NULL) * 1000, &suppressed))
				mm_warnx("stream entry %s ignored: %s: %s%s", last_id, why,
					 mm_sanitize_text(v->str, v->len, sample, sizeof(sample)),
					 suppressed ? " (and similar ones)" : "");
			continue;
		}
		{
			uint64_t refused = mm_exabgp_stats(fd->x)->refused;

			mm_exabgp_feed(fd->x, &ev, quiet ? NULL : out_line, fd);
			if (mm_exabgp_stats(fd->x)->refused > refused)
				mm_warnx("incident %s not handed off: [exabgp] max_routes (%" PRIu32 ") routes are up",
					 ev.id, mm_exabgp_stats(fd->x)->routes);
		}
	}
}

/* ExaBGP's answers.  0 = go on, 1 = ExaBGP said shutdown or went away. */
static int read_acks(struct feed *fd)
{
	for (;;) {
		ssize_t n = read(0, fd->in + fd->inlen, sizeof(fd->in) - 1 - fd->inlen);
		char *p, *nl;

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : 1;
		if (n == 0)
			return fd->stdin_piped; /* a closed pipe: ExaBGP is gone */
		fd->inlen += (size_t)n;
		fd->in[fd->inlen] = '\0';
		p = fd->in;
		while ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			if (strcmp(p, "shutdown") == 0)
				return 1;
			if ((strcmp(p, "done") == 0 || strcmp(p, "error") == 0) && fd->sent_n > 0) {
				if (p[0] == 'e')
					mm_warnx("ExaBGP refused: %s", fd->sent[fd->sent_head]);
				fd->sent_head = (fd->sent_head + 1) % ACK_RING;
				fd->sent_n--;
			}
			p = nl + 1;
		}
		fd->inlen = strlen(p);
		memmove(fd->in, p, fd->inlen);
		if (fd->inlen == sizeof(fd->in) - 1)
			fd->inlen = 0; /* a line longer than any answer: not one */
	}
}

/* Replay the whole stream (it is capped) quietly.  0, or -1. */
static int rebuild(redisContext *c, const struct mm_config *cfg, struct feed *fd, char *last_id, size_t idlen)
{
	char from[96] = "-"; /* "(" and a stream id (at most 79) */

	for (;;) {
		redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d", cfg->alert_stream, from, HISTORY_BATCH);
		size_t n;

		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			mm_warnx("%s: %s", cfg->alert_stream, r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
			freeReplyObject(r);
			return -1;
		}
		n = r->elements;
		for (size_t i = 0; i < n; i++)
			entry(fd, r->element[i], last_id, idlen, 1);
		freeReplyObject(r);
		if (n < HISTORY_BATCH)
			return 0;
		snprintf(from, sizeof(from), "(%s", last_id); /* exclusive: Redis 6.2 and later */
	}
}

int mm_cmd_exabgp(const struct mm_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "no-history", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct mm_exabgp_params p;
	struct feed *fd;
	struct stat st;
	struct sigaction sa;
	char last_id[80] = "0-0";
	int ch, dry = 0, history = 1, rc = 0;
	redisContext *c;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': dry = 1; break;
		case 'H': history = 0; break;
		default: mm_cmd_exabgp_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		mm_cmd_exabgp_usage(stderr);
		return 2;
	}
	mm_log_init("mamori exabgp", 1, cfg->log_level);
	dry |= cfg->exabgp_dry_run;
	if (!cfg->exabgp_enabled && !dry) {
		mm_warnx("[exabgp] enabled = no in %s: nothing is handed to ExaBGP (--dry-run shows what would be)",
			 cfg->path);
		return 1;
	}
	if (mm_exabgp_params_from_config(&p, cfg) < 0) {
		mm_warnx("%s: [exabgp] holds a value mm_config_load would refuse", cfg->path);
		return 1;
	}
	fd = calloc(1, sizeof(*fd));
	if (fd == NULL || (fd->x = mm_exabgp_new(&p)) == NULL) {
		mm_warnx("out of memory");
		free(fd);
		return 1;
	}
	fd->dry_run = dry;
	mm_ratelimit_init(&fd->bad_rl, 0.2, 5);
	/* ExaBGP's answers come on a pipe; a terminal or /dev/null is not ExaBGP. */
	fd->stdin_piped = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	if (fd->stdin_piped)
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* ExaBGP gone: a write error, then exit */

	c = mm_cli_redis_connect(cfg);
	if (c == NULL) {
		rc = 1;
		goto out;
	}
	if (history) {
		if (rebuild(c, cfg, fd, last_id, sizeof(last_id)) < 0) {
			rc = 1;
			goto out;
		}
		mm_info("%" PRIu32 " route%s due from the stream's history", mm_exabgp_stats(fd->x)->routes,
			mm_exabgp_stats(fd->x)->routes == 1 ? "" : "s");
		mm_exabgp_announce_all(fd->x, out_line, fd);
	} else {
		redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", cfg->alert_stream);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2)
			snprintf(last_id, sizeof(last_id), "%s", r->element[0]->element[0]->str);
		freeReplyObject(r);
	}
	{
		struct timeval tv = { 3, 0 }; /* above the 1 s BLOCK */
		redisSetTimeout(c, tv);
	}
	while (!stop_feed && !fd->write_failed) {
		redisReply *r;

		if (fd->stdin_piped && read_acks(fd) != 0)
			break;
		r = redisCommand(c, "XREAD COUNT 100 BLOCK 1000 STREAMS %s %s", cfg->alert_stream, last_id);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (!stop_feed) {
				mm_warnx("%s: %s", cfg->alert_stream, r ? r->str : c->errstr);
				rc = 1;
			}
			freeReplyObject(r);
			break;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
		    r->element[0]->elements == 2) {
			const redisReply *entries = r->element[0]->element[1];
			for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++)
				entry(fd, entries->element[i], last_id, sizeof(last_id), 0);
		}
		freeReplyObject(r);
	}
	if (fd->write_failed) {
		mm_warnx("writing to ExaBGP failed: %s", strerror(errno));
		rc = 1;
	}
	{
		const struct mm_exabgp_stats *s = mm_exabgp_stats(fd->x);
		mm_info("events %" PRIu64 ", announced %" PRIu64 ", withdrawn %" PRIu64 ", shared %" PRIu64
			", refused %" PRIu64 ", ignored %" PRIu64 ", bad entries %" PRIu64 ", routes up %" PRIu32,
			s->events, s->announced, s->withdrawn, s->shared, s->refused, s->ignored, fd->bad, s->routes);
	}
out:
	if (c != NULL)
		redisFree(c);
	mm_exabgp_free(fd->x);
	free(fd);
	return rc;
}
