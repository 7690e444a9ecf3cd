/*
 * main.c - mamori-detector: score every step's active hosts from Redis
 * (detector.h does the per-host work), hand incident events to the alert
 * outputs (alert.h).  Live: a step t is scored once t + late_steps has
 * closed on the wall clock and every collector seen recently has marked t
 * done (or a bounded wait passed).  Replay (--replay-steps / --replay-all):
 * a recorded range, as fast as Redis answers; the same content gives the
 * same alerts.
 *
 * Baselines persist in mm:b:{<addr>} (the host's hash tag, the retention
 * as TTL): loaded once per host on first sight, written after each step it
 * was scored in.  Prefix baselines (carpet bombing) are kept in memory
 * only: after a restart they learn again for warmup_steps.  Open incidents are not ended on shutdown (no end events
 * for them); the incident table itself is in memory only, so after a
 * restart an attack still running starts a new incident.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include "mamori/alert.h"
#include "mamori/config.h"
#include "mamori/daemon_metrics.h"
#include "mamori/detector.h"
#include "mamori/fast_reader.h"
#include "mamori/log.h"
#include "mamori/privdrop.h"
#include "mamori/privacy.h"
#include "mamori/redis_schema.h"
#include "mamori/reload.h"

#define PROG "mamori-detector"
#ifndef MAMORI_VERSION
#define MAMORI_VERSION "0.1.0"
#endif
#define BATCH 1024            /* hosts read and scored per pipeline */
#define MAX_COLLECTORS 64     /* collectors remembered for the done wait */
#define COLLECTOR_FORGET 30   /* steps without a done mark: not waited for */

struct opts {
	const char *conf;
	const char *id;
	int check, fg, json, replay_all;
	int verbose, allow_root;      /* -v (with -t), --allow-root */
	unsigned shard_n, shard_m;
	int replay;
	uint64_t first, last;
};

struct collector_seen {
	char id[MM_NAME_MAX];
	uint64_t last_step;
};

/* The active hosts of one step (filtered to this shard and the groups). */
struct idx_slot {
	uint64_t step;
	int valid;
	uint8_t (*a)[16];
	size_t n, cap;
};

struct det {
	struct opts o;
	struct mm_config cfg;
	struct mm_cryptopan *cp;      /* [privacy] pseudonymise: maps the groups, at start and on reload */
	char id[MM_NAME_MAX];
	struct event_base *base;
	struct mm_alert_outputs *out;
	struct mm_det *d;
	struct mm_redis_reader *rd;
	redisContext *rc;             /* baselines: GET / SET */
	uint64_t next_step;           /* live: the next step to score */
	uint64_t origin;              /* no data before this step (replay: its first) */
	struct collector_seen seen[MAX_COLLECTORS];
	unsigned nseen;
	uint64_t wait_started_ms;
	uint8_t (*addrs)[16];
	uint64_t *active;             /* per addrs[i]: bit k = data at step - k */
	size_t naddrs, addrs_cap;
	struct mm_redis_pair *pairs;  /* the (host, step) reads of a batch */
	size_t npairs, pairs_cap;
	struct idx_slot *idx;         /* the last slow window's step indexes */
	uint32_t nidx;
	struct mm_hoststep *fast, *newest;       /* BATCH each */
	struct mm_redis_contrib *who, *who_newest;
	uint8_t (*batchaddr)[16], (*newaddr)[16], (*ownaddr)[16];
	uint64_t incomplete_steps;
	int stop;
	/* operations: reload, metrics (docs/operations.md) */
	struct mm_metrics *metrics;   /* NULL: no [detector] metrics */
	struct mm_reload_stats reload;
	struct mm_alert_stats alerts_retired; /* outputs replaced by reloads */
	uint64_t events[MM_CLASS_COUNT][3];
	int64_t open[MM_CLASS_COUNT];
	uint64_t steps_scored, step_errors, start_s;
	double step_s_sum, step_s_last;
	/* the fast path's stream (docs/fastpath.md) */
	redisContext *frc;            /* live: its own context, NULL = reconnect */
	uint64_t frc_tried_ms;
	char fast_id[MM_FAST_ID_MAX]; /* live: the last entry read */
	uint64_t fast_bad;            /* entries that did not parse */
	struct mm_fast_event *fev;    /* replay: every entry, by time */
	size_t nfev, capfev, fev_next;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_event(void *arg, enum mm_incident_event ev, const struct mm_incident *inc)
{
	struct det *x = arg;
	char buf[MM_ALERT_JSON_MAX];

	if (inc->key.cls < MM_CLASS_COUNT && (unsigned)ev < 3) {
		x->events[inc->key.cls][ev]++;
		x->open[inc->key.cls] += ev == MM_INC_START ? 1 : ev == MM_INC_END ? -1 : 0;
	}
	mm_alert_emit(x->out, ev, inc);
	if (x->o.json && mm_alert_json(ev, inc, x->cfg.step_s, x->id, buf, sizeof(buf)) > 0) {
		fputs(buf, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
}

static redisContext *rc_connect(const struct mm_config *cfg, char *err, size_t errlen)
{
	struct timeval tv = { 5, 0 };
	redisContext *c;
	redisReply *r;

	if (cfg->redis_socket[0])
		c = redisConnectUnixWithTimeout(cfg->redis_socket, tv);
	else
		c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
	if (c == NULL || c->err) {
		snprintf(err, errlen, "redis connect: %s", c ? c->errstr : "no memory");
		goto err;
	}
	redisSetTimeout(c, tv);
	if (cfg->redis_password[0]) {
		if (cfg->redis_user[0])
			r = redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password);
		else
			r = redisCommand(c, "AUTH %s", cfg->redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis AUTH failed");
			freeReplyObject(r);
			goto err;
		}
		freeReplyObject(r);
	}
	if (cfg->redis_db) {
		r = redisCommand(c, "SELECT %d", cfg->redis_db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis SELECT failed");
			freeReplyObject(r);
			goto err;
		}
		freeReplyObject(r);
	}
	return c;
err:
	if (c != NULL)
		redisFree(c);
	return NULL;
}

static size_t bkey(char *out, const uint8_t addr[16])
{
	char a[MM_REDIS_ADDR_MAX];
	mm_redis_addr_text(addr, a, sizeof(a));
	return (size_t)snprintf(out, MM_REDIS_KEY_MAX, "mm:b:{%s}", a);
}

/* Load the persisted baselines of hosts not looked up yet (pipelined). */
static int load_baselines(struct det *x, struct mm_det_host **hs, size_t n)
{
	char key[MM_REDIS_KEY_MAX];
	size_t sent = 0;

	for (size_t i = 0; i < n; i++) {
		if (hs[i]->loaded)
			continue;
		bkey(key, hs[i]->addr);
		redisAppendCommand(x->rc, "GET %s", key);
		sent++;
	}
	for (size_t i = 0; i < n && sent > 0; i++) {
		redisReply *r;
		if (hs[i]->loaded)
			continue;
		hs[i]->loaded = 1;
		sent--;
		if (redisGetReply(x->rc, (void **)&r) != REDIS_OK) {
			mm_warnx("redis: baselines: %s", x->rc->errstr);
			return -1;
		}
		if (r->type == REDIS_REPLY_STRING &&
		    mm_baseline_decode((const uint8_t *)r->str, r->len, &hs[i]->base) != 0)
			mm_debug("bad baseline blob ignored");
		freeReplyObject(r);
	}
	return 0;
}

/* External sources have no baseline to keep. */
static int save_baselines(struct det *x, struct mm_det_host **hs, size_t n)
{
	char key[MM_REDIS_KEY_MAX];
	uint8_t blob[MM_BASELINE_BLOB_SIZE];
	size_t sent = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (hs[i]->external)
			continue;
		len = mm_baseline_encode(&hs[i]->base, blob);
		bkey(key, hs[i]->addr);
		redisAppendCommand(x->rc, "SET %s %b EX %u", key, blob, len, (unsigned)x->cfg.retention_s);
		sent++;
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *r;
		if (redisGetReply(x->rc, (void **)&r) != REDIS_OK) {
			mm_warnx("redis: baselines: %s", x->rc->errstr);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

struct add_ctx {
	struct det *x;
	struct idx_slot *slot;
};

static int add_addr(void *arg, const uint8_t addr[16])
{
	struct add_ctx *c = arg;
	struct det *x = c->x;
	struct idx_slot *sl = c->slot;

	if (x->o.shard_m > 1 && mm_redis_shard(addr) % x->o.shard_m != x->o.shard_n)
		return 0;
	/* external sources too, when the detector tracks them */
	if (x->cfg.max_external == 0 && mm_config_group_of(&x->cfg, addr) < 0)
		return 0;
	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 1024;
		void *p = realloc(sl->a, cap * 16);
		if (p == NULL)
			return 1;
		sl->a = p;
		sl->cap = cap;
	}
	memcpy(sl->a[sl->n++], addr, 16);
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

struct done_ctx {
	struct det *x;
	uint64_t step;
	unsigned n;
};

static int on_done(void *arg, const char *collector, uint64_t hosts)
{
	struct done_ctx *c = arg;
	struct det *x = c->x;
	unsigned i;

	(void)hosts;
	c->n++;
	for (i = 0; i < x->nseen; i++)
		if (strcmp(x->seen[i].id, collector) == 0)
			break;
	if (i == x->nseen) {
		if (x->nseen == MAX_COLLECTORS)
			return 0;
		snprintf(x->seen[i].id, sizeof(x->seen[i].id), "%s", collector);
		x->nseen++;
	}
	if (x->seen[i].last_step < c->step)
		x->seen[i].last_step = c->step;
	return 0;
}

/* 1 when every collector that marked a step in the last COLLECTOR_FORGET
 * steps has marked `step`, 0 when some has not, -1 on a Redis error. */
static int step_complete(struct det *x, uint64_t step)
{
	struct done_ctx c = { x, step, 0 };

	if (mm_redis_read_done(x->rd, step, on_done, &c) < 0)
		return -1;
	for (unsigned i = 0; i < x->nseen; i++)
		if (x->seen[i].last_step < step && x->seen[i].last_step + COLLECTOR_FORGET >= step)
			return 0;
	return c.n > 0 || x->nseen == 0 ? 1 : 0;
}

/* One step's index into its slot of the ring. */
static int read_index(struct det *x, uint64_t st)
{
	struct idx_slot *sl = &x->idx[st % x->nidx];
	struct add_ctx c = { x, sl };

	sl->valid = 0;
	sl->n = 0;
	if (mm_redis_read_index(x->rd, st, add_addr, &c) < 0) {
		mm_warnx("redis: index of step %" PRIu64 ": %s", st, mm_redis_reader_error(x->rd));
		return -1;
	}
	if (sl->n > 1)
		qsort(sl->a, sl->n, 16, cmp_addr);
	sl->step = st;
	sl->valid = 1;
	return 0;
}

/*
 * The hosts to score at `step`: every host active in some step of the slow
 * window [first, step], not only in `step`.  A host's windows are not empty
 * in the steps after its last record, and its baseline must see them as
 * they are: scored only when active, a sparse host learnt its quiet steps
 * as zero windows (mm_baseline_learn fills gaps with silence), which
 * underestimated its window rates by up to the window's length (30 x for
 * the slow window's bytes out) and made its next few sampled packets a
 * 20-sigma exfiltration.  The indexes of past steps are kept in a ring
 * (read from Redis once, the current step's every time).
 */
static int active_hosts(struct det *x, uint64_t step, uint64_t first)
{
	size_t k = 0;

	if (x->idx == NULL) {
		x->nidx = mm_slow_window_steps(&x->cfg);
		if (x->nidx == 0)
			x->nidx = 1;
		x->idx = calloc(x->nidx, sizeof(*x->idx));
		if (x->idx == NULL)
			return -1;
	}
	if (step + 1 - first > x->nidx)
		first = step + 1 - x->nidx;
	x->naddrs = 0;
	for (uint64_t st = first; st <= step; st++) {
		struct idx_slot *sl = &x->idx[st % x->nidx];

		if ((st == step || !sl->valid || sl->step != st) && read_index(x, st) < 0)
			return -1;
		if (x->naddrs + sl->n > x->addrs_cap) {
			size_t cap = x->addrs_cap ? x->addrs_cap : 4096;
			void *p;

			while (cap < x->naddrs + sl->n)
				cap *= 2;
			p = realloc(x->addrs, cap * 16);
			if (p == NULL)
				return -1;
			x->addrs = p;
			x->addrs_cap = cap;
		}
		if (sl->n == 0)
			continue; /* (sl->a may be NULL) */
		memcpy(x->addrs[x->naddrs], sl->a, sl->n * 16);
		x->naddrs += sl->n;
	}
	/* a fixed order: the same content gives the same events in the same order */
	if (x->naddrs > 1)
		qsort(x->addrs, x->naddrs, 16, cmp_addr);
	for (size_t i = 0; i < x->naddrs; i++)
		if (k == 0 || memcmp(x->addrs[k - 1], x->addrs[i], 16) != 0)
			memmove(x->addrs[k++], x->addrs[i], 16);
	x->naddrs = k;
	/* Which steps each host had data in (the last 64 at most): the
	 * reads skip the others, empty for sure. */
	if (x->naddrs > 0) {
		void *p = realloc(x->active, x->addrs_cap * sizeof(*x->active));
		if (p == NULL)
			return -1;
		x->active = p;
	}
	for (size_t i = 0; i < x->naddrs; i++) {
		uint64_t m = 0;

		for (uint64_t st = first; st <= step; st++) {
			const struct idx_slot *sl = &x->idx[st % x->nidx];

			if (step - st < 64 && sl->n > 0 && bsearch(x->addrs[i], sl->a, sl->n, 16, cmp_addr) != NULL)
				m |= (uint64_t)1 << (step - st);
		}
		x->active[i] = m;
	}
	return 0;
}

/* Had the host (mask m at `step`) data at st?  Unknown (older than the
 * mask, or before the slow window) counts as yes. */
static int had_data(uint64_t m, uint64_t step, uint64_t st, uint64_t sfirst)
{
	return st < sfirst || step - st >= 64 || (m >> (step - st) & 1);
}

static int pair_add(struct det *x, uint32_t host, uint64_t step)
{
	if (x->npairs == x->pairs_cap) {
		size_t cap = x->pairs_cap ? x->pairs_cap * 2 : 4096;
		void *p = realloc(x->pairs, cap * sizeof(*x->pairs));
		if (p == NULL)
			return -1;
		x->pairs = p;
		x->pairs_cap = cap;
	}
	x->pairs[x->npairs].host = host;
	x->pairs[x->npairs++].step = step;
	return 0;
}

/* dst gets the collectors of src it does not list yet. */
static void contrib_union(struct mm_redis_contrib *dst, const struct mm_redis_contrib *src)
{
	for (unsigned i = 0; i < src->n; i++) {
		unsigned k;

		for (k = 0; k < dst->n; k++)
			if (strcmp(dst->id[k], src->id[i]) == 0)
				break;
		if (k < dst->n)
			continue;
		if (dst->n < MM_REDIS_CONTRIB_MAX)
			memcpy(dst->id[dst->n++], src->id[i], sizeof(dst->id[0]));
		else
			dst->more++;
	}
}

/* Hosts seen for the first time get their slow window from Redis once,
 * block by block, up to the step before `step` (mm_det_slow_add). */
static int fill_slow(struct det *x, struct mm_det_host **hs, const uint64_t *act, size_t n, uint64_t step,
		     uint64_t sfirst)
{
	uint32_t bs = mm_det_block_steps(x->d);
	uint64_t from = sfirst / bs * bs;
	struct mm_det_host *nh[BATCH];
	uint64_t nact[BATCH];
	uint8_t (*na)[16] = x->newaddr;
	size_t nn = 0;

	if (from < x->origin)
		from = x->origin;
	for (size_t i = 0; i < n; i++)
		if (hs[i]->since == 0) {
			hs[i]->since = from;
			nh[nn] = hs[i];
			nact[nn] = act[i];
			memcpy(na[nn++], hs[i]->addr, 16);
		}
	for (uint64_t a = from; nn > 0 && a < step; a = (a / bs + 1) * bs) {
		uint64_t b = (a / bs + 1) * bs - 1;

		if (b > step - 1)
			b = step - 1;
		x->npairs = 0;
		for (size_t j = 0; j < nn; j++)
			for (uint64_t st = a; st <= b; st++)
				if (had_data(nact[j], step, st, sfirst) && pair_add(x, (uint32_t)j, st) < 0)
					return -1;
		if (x->npairs == 0)
			continue;
		if (mm_redis_read_pairs(x->rd, (const uint8_t(*)[16])na, nn, x->pairs, x->npairs, x->newest, NULL) < 0)
			return -1;
		for (size_t j = 0; j < nn; j++)
			mm_det_slow_add(x->d, nh[j], a, &x->newest[j]);
	}
	return 0;
}

/*
 * Per host and step: the fast window's earlier steps summed and the step
 * itself (an HGETALL per host and step, pipelined), which is added to the
 * host's slow blocks (detector.h) instead of reading the slow window back;
 * only the steps the index says the host had data in are read.  At most
 * 6 reads a host-step with the defaults, instead of 36.
 */
static int score_step(struct det *x, uint64_t step, int complete)
{
	uint32_t w = x->cfg.window_steps, s = mm_slow_window_steps(&x->cfg);
	uint64_t ffirst = step + 1 >= w ? step + 1 - w : 0, sfirst = step + 1 >= s ? step + 1 - s : 0;
	uint32_t fn;
	struct mm_det_host *hs[BATCH];
	uint64_t act[BATCH];
	size_t own[BATCH], nown;
	uint8_t (*ba)[16] = x->batchaddr;

	if (!complete) {
		x->incomplete_steps++;
		mm_warnx("step %" PRIu64 ": not every collector marked it done; scoring what is there", step);
	}
	/* windows start no earlier than the data: a replay's first step */
	if (ffirst < x->origin)
		ffirst = x->origin;
	if (sfirst < x->origin)
		sfirst = x->origin;
	fn = (uint32_t)(step + 1 - ffirst);
	if (active_hosts(x, step, sfirst) < 0)
		return -1;
	for (size_t i = 0; i < x->naddrs; i += BATCH) {
		size_t n = 0, m = x->naddrs - i < BATCH ? x->naddrs - i : BATCH;

		for (size_t j = 0; j < m; j++) {
			struct mm_det_host *h = mm_det_host(x->d, x->addrs[i + j], 1);
			if (h == NULL)
				continue;
			act[n] = x->active[i + j];
			hs[n] = h;
			memcpy(ba[n], h->addr, 16);
			n++;
		}
		if (n == 0)
			continue;
		/* External sources are scored on the slow classes only: their
		 * step (into the slow blocks) is all they need read. */
		nown = 0;
		for (size_t j = 0; j < n; j++)
			if (!hs[j]->external) {
				own[nown] = j;
				memcpy(x->ownaddr[nown++], hs[j]->addr, 16);
			}
		if (load_baselines(x, hs, n) < 0 || fill_slow(x, hs, act, n, step, sfirst) < 0)
			goto redis_err;
		if (fn > 1 && nown > 0) {
			x->npairs = 0;
			for (size_t k = 0; k < nown; k++)
				for (uint64_t st = ffirst; st < step; st++)
					if (had_data(act[own[k]], step, st, sfirst) && pair_add(x, (uint32_t)k, st) < 0)
						return -1;
			if (mm_redis_read_pairs(x->rd, (const uint8_t(*)[16])x->ownaddr, nown, x->pairs, x->npairs,
						x->fast, x->who) < 0)
				goto redis_err;
		}
		x->npairs = 0;
		for (size_t j = 0; j < n; j++)
			if ((act[j] & 1) && pair_add(x, (uint32_t)j, step) < 0)
				return -1;
		if (mm_redis_read_pairs(x->rd, (const uint8_t(*)[16])ba, n, x->pairs, x->npairs, x->newest,
					x->who_newest) < 0)
			goto redis_err;
		/* x->fast[k] belongs to hs[own[k]]: spread them to their places
		 * (backwards: own[k] >= k), the step merged in. */
		for (size_t k = nown; k-- > 0;) {
			size_t j = own[k];

			if (fn > 1) {
				if (j != k) {
					x->fast[j] = x->fast[k];
					x->who[j] = x->who[k];
				}
				mm_hoststep_merge(&x->fast[j], &x->newest[j]);
				contrib_union(&x->who[j], &x->who_newest[j]);
			}
		}
		for (size_t j = 0; j < n; j++) {
			if (fn <= 1 || hs[j]->external) {
				x->fast[j] = x->newest[j];
				x->who[j] = x->who_newest[j];
			}
			mm_det_score(x->d, hs[j], step, &x->fast[j], hs[j]->external ? 1 : fn, &x->newest[j],
				     &x->who[j], complete ? 1.0 : -1.0);
		}
		if (save_baselines(x, hs, n) < 0)
			return -1;
	}
	mm_det_end_step(x->d, step);
	mm_debug("step %" PRIu64 ": %zu hosts", step, x->naddrs);
	return 0;
redis_err:
	mm_warnx("redis: windows of step %" PRIu64 ": %s", step, mm_redis_reader_error(x->rd));
	return -1;
}

/* ---- the fast path's crossings ---------------------------------------- */

static void on_fast(void *arg, const struct mm_fast_event *e)
{
	struct det *x = arg;

	if (x->o.shard_m > 1 && mm_redis_shard(e->addr) % x->o.shard_m != x->o.shard_n)
		return; /* another detector's host */
	mm_det_fast(x->d, e);
}

/* Live: what the collectors added since the last poll, at once. */
static void on_fast_poll(evutil_socket_t fd, short what, void *arg)
{
	struct det *x = arg;
	char err[256];
	long n;

	(void)fd;
	(void)what;
	if (x->frc == NULL) {
		uint64_t now = now_ms();

		if (now - x->frc_tried_ms < 1000)
			return;
		x->frc_tried_ms = now;
		if ((x->frc = rc_connect(&x->cfg, err, sizeof(err))) == NULL) {
			mm_warnx("fast path: %s", err);
			return;
		}
	}
	/* at most 10 000 a poll: the step scoring must not wait long */
	for (int i = 0; i < 10; i++) {
		n = mm_fast_read_new(x->frc, x->cfg.fast_stream, x->fast_id, 1000, on_fast, x, &x->fast_bad);
		if (n < 0) {
			mm_warnx("fast path: redis: %s", x->frc->errstr);
			redisFree(x->frc);
			x->frc = NULL;
			return;
		}
		if (n < 1000)
			return;
	}
}

static void collect_fast(void *arg, const struct mm_fast_event *e)
{
	struct det *x = arg;

	if (x->nfev == x->capfev) {
		size_t cap = x->capfev ? 2 * x->capfev : 1024;
		void *p = realloc(x->fev, cap * sizeof(*x->fev));

		if (p == NULL)
			return; /* counted below as not adopted */
		x->fev = p;
		x->capfev = cap;
	}
	x->fev[x->nfev++] = *e;
}

static int cmp_fast(const void *a, const void *b)
{
	const struct mm_fast_event *x = a, *y = b;

	if (x->time_ms != y->time_ms)
		return x->time_ms < y->time_ms ? -1 : 1;
	return memcmp(x->addr, y->addr, 16) != 0 ? memcmp(x->addr, y->addr, 16) : (int)x->cls - (int)y->cls;
}

/* Replay: the crossings the live detector would have read before scoring
 * `step` (it scores a step late_steps + 0.5 s after its end). */
static void replay_fast(struct det *x, uint64_t step)
{
	uint64_t step_ms = (uint64_t)x->cfg.step_s * 1000;
	uint64_t before = (step + 1 + x->cfg.late_steps) * step_ms + 500;

	while (x->fev_next < x->nfev && x->fev[x->fev_next].time_ms < before) {
		const struct mm_fast_event *e = &x->fev[x->fev_next++];

		if (e->time_ms >= x->origin * step_ms)
			on_fast(x, e);
	}
}

/* --replay-all: the range of the done marks. */
static int done_range(struct det *x, uint64_t *first, uint64_t *last)
{
	unsigned long long cur = 0;
	int found = 0;

	do {
		redisReply *r = redisCommand(x->rc, "SCAN %llu MATCH mm:done:* COUNT 1000", cur);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			freeReplyObject(r);
			return -1;
		}
		cur = strtoull(r->element[0]->str, NULL, 10);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			uint64_t s = strtoull(r->element[1]->element[i]->str + 8, NULL, 10);
			if (!found || s < *first)
				*first = s;
			if (!found || s > *last)
				*last = s;
			found = 1;
		}
		freeReplyObject(r);
	} while (cur != 0);
	return found ? 0 : -1;
}

static int run_replay(struct det *x)
{
	if (x->o.replay_all && done_range(x, &x->o.first, &x->o.last) < 0) {
		mm_warnx("--replay-all: no done marks in Redis");
		return -1;
	}
	x->origin = x->o.first;
	mm_info("replay: steps %" PRIu64 "..%" PRIu64, x->o.first, x->o.last);
	if (mm_fast_read_all(x->rc, x->cfg.fast_stream, collect_fast, x, &x->fast_bad) < 0) {
		mm_warnx("fast path: redis: %s", x->rc->errstr);
		return -1;
	}
	/* in time order, ties fixed: the same content gives the same alerts */
	if (x->nfev > 1)
		qsort(x->fev, x->nfev, sizeof(*x->fev), cmp_fast);
	for (uint64_t t = x->o.first; t <= x->o.last && !x->stop; t++) {
		int c = step_complete(x, t);
		replay_fast(x, t);
		if (c < 0 || score_step(x, t, c) < 0)
			return -1;
		event_base_loop(x->base, EVLOOP_NONBLOCK);
	}
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct det *x = arg;
	(void)sig;
	(void)what;
	x->stop = 1;
	event_base_loopbreak(x->base);
}

/* Live: every 250 ms, score the next step once it is due. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct det *x = arg;
	uint64_t now = now_ms(), step_ms = (uint64_t)x->cfg.step_s * 1000;
	uint64_t due = (x->next_step + 1 + x->cfg.late_steps) * step_ms + 500;
	int c;

	(void)fd;
	(void)what;
	while (!x->stop && now >= due) {
		c = step_complete(x, x->next_step);
		if (c < 0) {
			x->step_errors++;
			return; /* Redis down: retry next tick */
		}
		if (c == 0) {
			if (x->wait_started_ms == 0)
				x->wait_started_ms = now;
			if (now - x->wait_started_ms < step_ms)
				return;
		}
		x->wait_started_ms = 0;
		{
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (score_step(x, x->next_step, c) < 0) {
				x->step_errors++;
				return;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			x->step_s_last = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
			x->step_s_sum += x->step_s_last;
			x->steps_scored++;
		}
		x->next_step++;
		due += step_ms;
	}
}

/* ---- operations: metrics, reload --------------------------------------- */

/* The outputs' counters, with those of outputs a reload replaced. */
static struct mm_alert_stats alert_totals(const struct det *x)
{
	struct mm_alert_stats t = x->alerts_retired;
	const struct mm_alert_stats *a = mm_alert_outputs_stats(x->out);

	t.events += a->events;
	t.stream_added += a->stream_added;
	t.published += a->published;
	t.file_lines += a->file_lines;
	t.syslog_lines += a->syslog_lines;
	t.hooks_run += a->hooks_run;
	t.hooks_failed += a->hooks_failed;
	t.hooks_timed_out += a->hooks_timed_out;
	t.hooks_skipped += a->hooks_skipped;
	t.redis_errors += a->redis_errors;
	t.dropped += a->dropped;
	return t;
}

static void fill_metrics(void *arg, struct mm_metrics_out *o)
{
	struct det *x = arg;
	struct mm_alert_stats a = alert_totals(x);
	struct mm_detector_status st;

	memset(&st, 0, sizeof(st));
	st.det = x->d;
	st.alerts = &a;
	memcpy(st.events, x->events, sizeof(st.events));
	memcpy(st.open, x->open, sizeof(st.open));
	st.steps = x->steps_scored;
	st.incomplete_steps = x->incomplete_steps;
	st.step_errors = x->step_errors;
	st.step_seconds_sum = x->step_s_sum;
	st.step_seconds_last = x->step_s_last;
	st.next_step = x->next_step;
	st.redis_errors = x->step_errors;
	mm_metrics_process(o, PROG, MAMORI_VERSION, x->start_s, &x->reload);
	mm_detector_metrics(o, &st);
}

/* Unhealthy: scoring has fallen more than two steps behind the clock. */
static int health(void *arg, char *why, size_t len)
{
	struct det *x = arg;
	uint64_t step_ms = (uint64_t)x->cfg.step_s * 1000, due = now_ms() / step_ms;

	if (x->next_step + x->cfg.late_steps + 3 < due) {
		snprintf(why, len, "scoring is %" PRIu64 " steps behind (redis errors %" PRIu64 ")",
			 due - x->next_step - x->cfg.late_steps - 1, x->step_errors);
		return -1;
	}
	return 0;
}

static int metrics_for(struct det *x, const struct mm_listen *want, struct mm_metrics **out, int *fresh)
{
	return mm_metrics_for(x->base, x->metrics, want, fill_metrics, health, x, out, fresh);
}

/* Keys a running detector cannot change: table sizes, the window, its
 * Redis connections and id, privileges. */
static const struct mm_config_field detector_fixed[] = {
	MM_CONFIG_FIELD("[collector] id", collector_id),
	MM_CONFIG_FIELD("[redis] host", redis_host),
	MM_CONFIG_FIELD("[redis] port", redis_port),
	MM_CONFIG_FIELD("[redis] socket", redis_socket),
	MM_CONFIG_FIELD("[redis] db", redis_db),
	MM_CONFIG_FIELD("[redis] user", redis_user),
	MM_CONFIG_FIELD("[redis] password", redis_password),
	MM_CONFIG_FIELD("[window] step", step_s),
	MM_CONFIG_FIELD("[window] steps", window_steps),
	MM_CONFIG_FIELD("[window] late_steps", late_steps),
	MM_CONFIG_FIELD("[window] max_hosts", max_hosts),
	MM_CONFIG_FIELD("[window] max_external", max_external),
	MM_CONFIG_FIELD("[detector] slow_window_steps", slow_window_steps),
	MM_CONFIG_FIELD("[detector] max_incidents", max_incidents),
	MM_CONFIG_FIELD("[detector] max_prefixes", max_prefixes),
	MM_CONFIG_FIELD("[daemon] user", daemon_user),
	MM_CONFIG_FIELD("[daemon] group", daemon_group),
	MM_CONFIG_FIELD("[daemon] allow_root", allow_root),
	MM_CONFIG_FIELD("[fastpath] interval_ms", fast_interval_ms),
	MM_CONFIG_FIELD("[fastpath] stream", fast_stream),
	MM_CONFIG_FIELD("[fastpath] poll_ms", fast_poll_ms),
	/* the key was read before the privileges were given up */
	MM_CONFIG_FIELD("[privacy] pseudonymise", pseudonymise),
	MM_CONFIG_FIELD("[privacy] key_file", privacy_key_file),
};

/* [alerts] from stream to hook_min_tier, as laid out in struct mm_config. */
static int alerts_differ(const struct mm_config *a, const struct mm_config *b)
{
	size_t from = offsetof(struct mm_config, alert_stream);
	size_t to = offsetof(struct mm_config, alert_hook_min_tier) + sizeof(a->alert_hook_min_tier);

	return memcmp((const char *)a + from, (const char *)b + from, to - from) != 0;
}

/*
 * SIGHUP: parse, validate, prepare what can fail (metrics address, new
 * alert outputs, the detector's new group tables), then swap.  Hosts,
 * their baselines and slow windows, group baselines (by group name) and
 * open incidents are kept; a reload between steps changes nothing of a
 * step being scored (the loop is single-threaded).
 */
static void reload_config(struct det *x)
{
	struct mm_config next, old;
	struct mm_metrics *m = NULL;
	struct mm_alert_outputs *out = NULL;
	int fresh = 0;
	char err[256], perr[1024];

	mm_info("SIGHUP: reloading %s", x->o.conf);
	if (mm_reload_load(x->o.conf, &next) < 0) {
		mm_reload_done(&x->reload, x->o.conf, 0);
		return;
	}
	mm_reload_keep(&next, &x->cfg, detector_fixed, sizeof(detector_fixed) / sizeof(detector_fixed[0]));
	/* the new groups, written in real addresses, as the collectors see them */
	if (x->cp != NULL && mm_privacy_map_groups(&next, x->cp, perr, sizeof(perr)) < 0) {
		mm_warnx("reload: %s", perr);
		goto refused;
	}
	if (metrics_for(x, &next.detector_metrics, &m, &fresh) < 0)
		goto refused;
	if (alerts_differ(&next, &x->cfg) &&
	    (out = mm_alert_outputs_new(x->base, &next, x->id, err, sizeof(err))) == NULL) {
		mm_warnx("reload: alerts: %s", err);
		goto refused;
	}
	if (mm_det_reconfigure(x->d, &next) < 0) {
		mm_warnx("reload: cannot set up the new groups (out of memory)");
		goto refused;
	}
	old = x->cfg;
	x->cfg = next;
	if (out != NULL) {
		/* What the old outputs still have in flight goes out first. */
		mm_alert_outputs_drain(x->out, 1000);
		x->alerts_retired = alert_totals(x);
		mm_alert_outputs_free(x->out);
		x->out = out;
		/* alert_totals adds the new outputs' (zero) counters again: none yet. */
	}
	if (m != x->metrics) {
		mm_metrics_free(x->metrics);
		x->metrics = m;
	}
	mm_log_set_level(x->cfg.log_level);
	mm_config_free(&old);
	mm_reload_done(&x->reload, x->o.conf, 1);
	return;
refused:
	mm_alert_outputs_free(out);
	if (fresh)
		mm_metrics_free(m);
	mm_config_free(&next);
	mm_warnx("reload: %s could not be applied; keeping the running configuration", x->o.conf);
	mm_reload_done(&x->reload, x->o.conf, 0);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reload_config(arg);
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: " PROG " [-c FILE] [-t] [-f] [--id ID] [--shard N/M]\n"
		"                       [--replay-steps FIRST:LAST | --replay-all] [--json]\n"
		"  -c FILE              configuration (default /etc/mamori/mamori.conf)\n"
		"  -t                   check the configuration and exit\n"
		"  -v                   with -t: print the normalised configuration\n"
		"  -f                   stay in the foreground, log to stderr\n"
		"  --allow-root         run as root when no [daemon] user is set (tests, containers)\n"
		"  --id ID              detector id in alerts (default: the collector id)\n"
		"  --shard N/M          score only hosts with mm_redis_shard(addr) %% M == N\n"
		"  --replay-steps A:B   score the recorded steps A..B and exit\n"
		"  --replay-all         score every step with done marks and exit\n"
		"  --json               also print alerts as JSON lines on stdout\n");
	exit(code);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum { OPT_ID = 256, OPT_SHARD, OPT_STEPS, OPT_ALL, OPT_JSON, OPT_ALLOW_ROOT };
	static const struct option lo[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "shard", required_argument, NULL, OPT_SHARD },
		{ "replay-steps", required_argument, NULL, OPT_STEPS },
		{ "replay-all", no_argument, NULL, OPT_ALL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	char *end;

	memset(o, 0, sizeof(*o));
	o->conf = "/etc/mamori/mamori.conf";
	o->shard_m = 1;
	while ((ch = getopt_long(argc, argv, "c:fhtv", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 'v': o->verbose = 1; break;
		case OPT_ALLOW_ROOT: o->allow_root = 1; break;
		case 'f': o->fg = 1; break;
		case 't': o->check = 1; break;
		case 'h': usage(0); break;
		case OPT_ID: o->id = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_ALL: o->replay = o->replay_all = 1; break;
		case OPT_SHARD:
			if (sscanf(optarg, "%u/%u", &o->shard_n, &o->shard_m) != 2 || o->shard_m == 0 ||
			    o->shard_n >= o->shard_m) {
				fprintf(stderr, PROG ": --shard N/M with N < M\n");
				exit(2);
			}
			break;
		case OPT_STEPS:
			errno = 0;
			o->first = strtoull(optarg, &end, 10);
			if (*end != ':' || errno)
				usage(2);
			o->last = strtoull(end + 1, &end, 10);
			if (*end != '\0' || errno || o->last < o->first)
				usage(2);
			o->replay = 1;
			break;
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
}

int main(int argc, char **argv)
{
	struct det *x = calloc(1, sizeof(*x));
	char err[256];
	struct event *ev_int = NULL, *ev_term = NULL, *ev_tick = NULL, *ev_hup = NULL, *ev_fast = NULL;
	int rc = 1;

	if (x == NULL)
		return 1;
	mm_log_init(PROG, 1, MM_LOG_INFO);
	parse_opts(argc, argv, &x->o);
	if (mm_config_load(&x->cfg, x->o.conf, stderr) != 0) {
		free(x);
		return 1;
	}
	/* -t -v prints the groups as written, before they are mapped */
	if (x->o.check && x->o.verbose)
		mm_config_print(&x->cfg, stdout);
	{
		/* pseudonymise = yes: the groups, written in real addresses, are
		 * mapped through the key to match what the collectors write (the
		 * key file checked, -t too); the key stays in memory for reloads */
		char perr[1024];

		if (mm_privacy_setup(&x->cfg, &x->cp, perr, sizeof(perr)) < 0) {
			fprintf(stderr, PROG ": %s\n", perr);
			mm_config_free(&x->cfg);
			free(x);
			return 1;
		}
	}
	if (x->o.check) {
		if (!x->o.verbose)
			printf("%s: configuration OK\n", x->o.conf);
		mm_cryptopan_free(x->cp);
		mm_config_free(&x->cfg);
		free(x);
		return 0;
	}
	snprintf(x->id, sizeof(x->id), "%s", x->o.id ? x->o.id : x->cfg.collector_id);
	mm_log_set_level(x->cfg.log_level);
	if (!x->o.fg && !x->o.replay) {
		if (daemon(0, 0) != 0)
			mm_fatal("daemon");
		mm_log_init(PROG, 0, x->cfg.log_level);
	}
	signal(SIGPIPE, SIG_IGN);
	x->base = event_base_new();
	if (x->base == NULL)
		mm_fatalx("event_base_new");
	x->out = mm_alert_outputs_new(x->base, &x->cfg, x->id, err, sizeof(err));
	if (x->out == NULL)
		mm_fatalx("alerts: %s", err);
	x->d = mm_det_new(&x->cfg, 0, on_event, x);
	x->fast = calloc(BATCH, sizeof(*x->fast));
	x->newest = calloc(BATCH, sizeof(*x->newest));
	x->who = calloc(BATCH, sizeof(*x->who));
	x->who_newest = calloc(BATCH, sizeof(*x->who_newest));
	x->batchaddr = calloc(BATCH, 16);
	x->newaddr = calloc(BATCH, 16);
	x->ownaddr = calloc(BATCH, 16);
	if (x->d == NULL || x->fast == NULL || x->newest == NULL || x->who == NULL || x->who_newest == NULL ||
	    x->batchaddr == NULL || x->newaddr == NULL || x->ownaddr == NULL)
		mm_fatalx("out of memory");
	x->rd = mm_redis_reader_open(&x->cfg, 10000, err, sizeof(err));
	if (x->rd == NULL)
		mm_fatalx("%s", err);
	x->rc = rc_connect(&x->cfg, err, sizeof(err));
	if (x->rc == NULL)
		mm_fatalx("%s", err);
	ev_int = evsignal_new(x->base, SIGINT, on_signal, x);
	ev_term = evsignal_new(x->base, SIGTERM, on_signal, x);
	if (ev_int == NULL || ev_term == NULL || evsignal_add(ev_int, NULL) || evsignal_add(ev_term, NULL))
		mm_fatalx("signals");
	x->start_s = (uint64_t)time(NULL);
	if (!x->o.replay) {
		/* Live: the metrics port while privileged, then give up root
		 * before the loop; SIGHUP reloads. */
		struct mm_privdrop pd;
		int fresh, r;

		if (metrics_for(x, &x->cfg.detector_metrics, &x->metrics, &fresh) < 0)
			mm_fatalx("metrics");
		memset(&pd, 0, sizeof(pd));
		snprintf(pd.user, sizeof(pd.user), "%s", x->cfg.daemon_user);
		snprintf(pd.group, sizeof(pd.group), "%s", x->cfg.daemon_group);
		pd.allow_root = x->cfg.allow_root || x->o.allow_root;
		r = mm_privdrop(&pd, err, sizeof(err));
		if (r < 0)
			mm_fatalx("%s", err);
		if (r == MM_PRIV_DROPPED)
			mm_info("running as %s (uid %u, gid %u)", pd.user, (unsigned)getuid(), (unsigned)getgid());
		else if (r == MM_PRIV_ROOT_ALLOWED)
			mm_warnx("running as root: allowed by %s", x->o.allow_root ? "--allow-root" : "[daemon] allow_root");
		ev_hup = evsignal_new(x->base, SIGHUP, on_hup, x);
		if (ev_hup == NULL || evsignal_add(ev_hup, NULL))
			mm_fatalx("signals");
	}

	if (x->o.replay) {
		rc = run_replay(x) < 0 ? 1 : 0;
	} else {
		struct timeval tv = { 0, 250000 };
		uint64_t step_ms = (uint64_t)x->cfg.step_s * 1000;
		x->next_step = now_ms() / step_ms - x->cfg.late_steps - 1;
		ev_tick = event_new(x->base, -1, EV_PERSIST, on_tick, x);
		if (ev_tick == NULL || event_add(ev_tick, &tv) != 0)
			mm_fatalx("timer");
		/* crossings from a step back on: the ones raised just before we started */
		snprintf(x->fast_id, sizeof(x->fast_id), "%" PRIu64 "-0", now_ms() - step_ms);
		struct timeval ftv = { (time_t)(x->cfg.fast_poll_ms / 1000), (suseconds_t)(x->cfg.fast_poll_ms % 1000) * 1000 };
		ev_fast = event_new(x->base, -1, EV_PERSIST, on_fast_poll, x);
		if (ev_fast == NULL || event_add(ev_fast, &ftv) != 0)
			mm_fatalx("timer");
		mm_info("scoring from step %" PRIu64 " (shard %u/%u)", x->next_step, x->o.shard_n, x->o.shard_m);
		event_base_dispatch(x->base);
		rc = 0;
	}
	/* Open incidents stay open: no end events on shutdown. */
	mm_alert_outputs_drain(x->out, 5000);
	{
		const struct mm_det_stats *s = mm_det_stats(x->d);
		mm_info("scored %" PRIu64 " host-steps, hosts %" PRIu64 ", externals %" PRIu64 " (refused %" PRIu64
			"), prefix-steps %" PRIu64 " (prefixes %" PRIu64 ", refused %" PRIu64 ", host observations folded %" PRIu64
			"), incidents started %" PRIu64 ", incomplete steps %" PRIu64,
			s->scored, s->hosts, s->externals, s->refused, s->prefixes_scored, s->prefixes, s->prefixes_refused,
			s->folded, s->starts, x->incomplete_steps);
		mm_info("fast path: crossings started %" PRIu64 " incidents, merged %" PRIu64 ", refused %" PRIu64
			", unreadable %" PRIu64, s->fast_started, s->fast_merged, s->fast_refused, x->fast_bad);
	}
	if (ev_tick)
		event_free(ev_tick);
	if (ev_hup)
		event_free(ev_hup);
	mm_metrics_free(x->metrics);
	if (ev_fast)
		event_free(ev_fast);
	if (x->frc)
		redisFree(x->frc);
	free(x->fev);
	event_free(ev_int);
	event_free(ev_term);
	mm_alert_outputs_free(x->out);
	mm_det_free(x->d);
	mm_redis_reader_close(x->rd);
	redisFree(x->rc);
	event_base_free(x->base);
	free(x->fast);
	free(x->newest);
	free(x->who);
	free(x->who_newest);
	free(x->batchaddr);
	free(x->newaddr);
	free(x->ownaddr);
	free(x->addrs);
	free(x->active);
	free(x->pairs);
	for (uint32_t i = 0; x->idx != NULL && i < x->nidx; i++)
		free(x->idx[i].a);
	free(x->idx);
	mm_cryptopan_free(x->cp);
	mm_config_free(&x->cfg);
	free(x);
	return rc;
}
