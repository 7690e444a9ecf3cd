/*
 * bench_redis.c - the Redis writer against a local redis-server: synthetic
 * closed steps of N hosts go through the step sink, as the aggregator
 * hands them over, and for each N it reports
 *
 *   build ms     sink begin -> end: serialising the step (the time the
 *                aggregator, and so intake, is held)
 *   flush ms     end -> done mark acknowledged (Redis doing the work)
 *   cmd/host     Redis commands per active host per step (FCALL count
 *                from INFO commandstats / host-steps)
 *   B/host       bytes sent to Redis per host-step (INFO stats)
 *   mem/host-win Redis memory per host and window: used_memory growth /
 *                host-steps x window steps
 *   redis us/host Redis CPU per host-step (INFO cpu)
 *
 *   bench_redis [-n 10000,100000,1000000] [-k STEPS] [-w WINDOW_STEPS] [-s SOCKET] [-K]
 *
 * -K keeps the last size's steps in Redis for a reader to measure
 * (bench/detector.sh); otherwise every size ends with FLUSHALL.
 *
 * Without -s it starts its own redis-server (no persistence) on a unix
 * socket in a temporary directory and kills it at the end.  The hosts are
 * "typical": a quarter busy (about 20 counters, half-full sketches, full
 * top-K lists), the rest light (6-10 counters, a few sketch registers, one
 * or two top-K entries); IPv4 addresses.  Default: 10 k and 100 k hosts for
 * 6 steps, 1 M hosts for 3 steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "mamori/config.h"
#include "mamori/log.h"
#include "mamori/redis_schema.h"
#include "mamori/redis_writer.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- waiting on the loop, bounded ---- */

struct waiter {
	struct event_base *base;
	int (*pred)(void *);
	void *arg;
	int ok;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *wt = arg;
	(void)fd;
	(void)what;
	if (wt->pred(wt->arg)) {
		wt->ok = 1;
		event_base_loopbreak(wt->base);
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct waiter *)arg)->base);
}

static int wait_for(struct event_base *base, int (*pred)(void *), void *arg, unsigned timeout_s)
{
	struct waiter wt = { base, pred, arg, 0 };
	struct timeval poll = { 0, 1000 }, dl = { timeout_s, 0 };
	struct event *pe = event_new(base, -1, EV_PERSIST, poll_cb, &wt);
	struct event *de = evtimer_new(base, deadline_cb, &wt);

	if (pred(arg)) {
		event_free(pe);
		event_free(de);
		return 1;
	}
	evtimer_add(pe, &poll);
	evtimer_add(de, &dl);
	event_base_loop(base, 0);
	event_free(pe);
	event_free(de);
	return wt.ok;
}

/* ---- redis-server ---- */

struct srv {
	pid_t pid;
	char dir[64], sock[128];
};

static int pings(void *arg)
{
	const char *sock = arg;
	redisContext *c = redisConnectUnix(sock);
	int ok = 0;
	if (c && !c->err) {
		redisReply *r = redisCommand(c, "PING");
		ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	return ok;
}

static int srv_start(struct srv *s, struct event_base *base)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/mm-bench-redis.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 1);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", s->sock, "--save", "",
		       "--appendonly", "no", "--dir", s->dir, (char *)NULL);
		_exit(127);
	}
	return wait_for(base, pings, s->sock, 10) ? 0 : -1;
}

static void srv_stop(struct srv *s)
{
	char p[160];
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	snprintf(p, sizeof(p), "%s/redis.sock", s->dir);
	unlink(p);
	rmdir(s->dir);
}

/* A number from INFO <section>: "name:value". */
static double info_num(redisContext *c, const char *section, const char *name)
{
	redisReply *r = redisCommand(c, "INFO %s", section);
	char pat[96];
	double v = 0;

	if (r && r->type == REDIS_REPLY_STRING) {
		snprintf(pat, sizeof(pat), "\n%s", name);
		const char *p = strstr(r->str, pat);
		if (p)
			v = atof(p + strlen(pat));
	}
	freeReplyObject(r);
	return v;
}

/* ---- synthetic hosts ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void gen_host(struct mm_hoststep *hs, uint8_t addr[16], unsigned h, uint64_t step)
{
	uint64_t s = (h + 1) * 0x9e3779b97f4a7c15ull ^ step;
	int busy = h % 4 == 0;
	unsigned nctr = busy ? 20 : 6 + (unsigned)(rnd(&s) % 5);

	memset(addr, 0, 16);
	addr[10] = addr[11] = 0xff;
	addr[12] = 10;
	addr[13] = (uint8_t)(h >> 16);
	addr[14] = (uint8_t)(h >> 8);
	addr[15] = (uint8_t)h;
	memset(hs, 0, sizeof(*hs));
	/* the basic six first (bytes/pkts/flows in and out), then others */
	for (unsigned i = 0; i < nctr; i++) {
		unsigned c = i < 6 ? i : 6 + (unsigned)(rnd(&s) % (MM_C_COUNT - 6));
		hs->ctr[c] = 1 + rnd(&s) % (c % 6 < 2 ? 50000000 : 50000);
	}
	for (unsigned k = 0; k < MM_S_COUNT; k++) {
		unsigned regs = busy ? 32 : 1 + (unsigned)(rnd(&s) % 4);
		for (unsigned i = 0; i < regs; i++)
			hs->hll[k].reg[rnd(&s) % MM_HLL_REGS] = (uint8_t)(1 + rnd(&s) % 6);
	}
	unsigned nt = busy ? MM_TOPK : 1 + (unsigned)(rnd(&s) % 2);
	for (unsigned i = 0; i < nt; i++) {
		uint64_t cnt = (uint64_t)(nt - i) * 1000 + rnd(&s) % 1000;
		hs->peers_in[i].addr[10] = hs->peers_in[i].addr[11] = 0xff;
		hs->peers_in[i].addr[12] = 198;
		hs->peers_in[i].addr[13] = 51;
		hs->peers_in[i].addr[14] = 100;
		hs->peers_in[i].addr[15] = (uint8_t)(rnd(&s));
		hs->peers_in[i].count = cnt;
		hs->ports[MM_T_DPORTS_IN][i].port = (uint16_t)(i ? rnd(&s) : 443);
		hs->ports[MM_T_DPORTS_IN][i].count = cnt;
		if (busy) {
			hs->peers_out[i] = hs->peers_in[i];
			hs->ports[MM_T_SPORTS_IN][i].port = (uint16_t)rnd(&s);
			hs->ports[MM_T_SPORTS_IN][i].count = cnt;
			hs->ports[MM_T_DPORTS_OUT][i].port = (uint16_t)rnd(&s);
			hs->ports[MM_T_DPORTS_OUT][i].count = cnt;
		}
	}
}

/* ---- the run ---- */

struct ctx {
	struct mm_redis_writer *w;
	uint64_t want;
};

static int ready(void *arg)
{
	struct ctx *c = arg;
	return mm_redis_writer_stats(c->w)->connected;
}

static int flushed(void *arg)
{
	struct ctx *c = arg;
	return mm_redis_writer_stats(c->w)->steps_flushed >= c->want && mm_redis_writer_pending(c->w) == 0;
}

static int keep; /* -K */

static int run(struct event_base *base, const struct mm_config *cfg, unsigned nhosts, unsigned steps,
	       unsigned win)
{
	char err[256];
	struct mm_redis_writer_opts o;
	struct mm_step_sink sink;
	struct mm_hoststep hs;
	uint8_t addr[16];
	struct ctx cx;
	double build = 0, flush = 0, build_max = 0, flush_max = 0;
	redisContext *rc = cfg->redis_socket[0] ? redisConnectUnix(cfg->redis_socket)
						: redisConnect(cfg->redis_host, cfg->redis_port);

	if (rc == NULL || rc->err) {
		fprintf(stderr, "bench_redis: cannot connect\n");
		return -1;
	}
	freeReplyObject(redisCommand(rc, "FLUSHALL"));
	mm_redis_writer_opts_default(&o);
	o.queue_max_bytes = (size_t)8 << 30; /* measure, do not drop */
	cx.w = mm_redis_writer_new(base, cfg, &o, err, sizeof(err));
	if (cx.w == NULL) {
		fprintf(stderr, "bench_redis: %s\n", err);
		redisFree(rc);
		return -1;
	}
	mm_redis_writer_sink(cx.w, &sink);
	if (!wait_for(base, ready, &cx, 10)) {
		fprintf(stderr, "bench_redis: writer not connected\n");
		goto fail;
	}
	double mem0 = info_num(rc, "memory", "used_memory:");
	double fc0 = 0, net0 = info_num(rc, "stats", "total_net_input_bytes:");
	double cpu0 = info_num(rc, "cpu", "used_cpu_user:") + info_num(rc, "cpu", "used_cpu_sys:");
	{
		redisReply *r = redisCommand(rc, "INFO commandstats");
		const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_fcall:calls=") : NULL;
		fc0 = p ? atof(p + 20) : 0;
		freeReplyObject(r);
	}
	for (unsigned k = 0; k < steps; k++) {
		uint64_t step = 1000 + k;
		double t0 = now_s(), t1, t2;
		sink.begin(sink.arg, step, nhosts);
		for (unsigned h = 0; h < nhosts; h++) {
			gen_host(&hs, addr, h, step);
			sink.host(sink.arg, step, addr, 0, 0, &hs);
		}
		sink.end(sink.arg, step, NULL);
		t1 = now_s();
		cx.want = k + 1;
		if (!wait_for(base, flushed, &cx, 600)) {
			fprintf(stderr, "bench_redis: step not flushed in 600 s\n");
			goto fail;
		}
		t2 = now_s();
		build += t1 - t0;
		flush += t2 - t1;
		if (t1 - t0 > build_max)
			build_max = t1 - t0;
		if (t2 - t1 > flush_max)
			flush_max = t2 - t1;
	}
	double hs_total = (double)nhosts * steps;
	double mem1 = info_num(rc, "memory", "used_memory:");
	double net1 = info_num(rc, "stats", "total_net_input_bytes:");
	double cpu1 = info_num(rc, "cpu", "used_cpu_user:") + info_num(rc, "cpu", "used_cpu_sys:");
	double fc1 = 0;
	{
		redisReply *r = redisCommand(rc, "INFO commandstats");
		const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_fcall:calls=") : NULL;
		fc1 = p ? atof(p + 20) : 0;
		freeReplyObject(r);
	}
	printf("%9u %5u %9.1f %9.1f %9.1f %9.1f %8.4f %7.0f %12.0f %10.2f\n", nhosts, steps, 1e3 * build / steps,
	       1e3 * build_max, 1e3 * flush / steps, 1e3 * flush_max, (fc1 - fc0) / hs_total, (net1 - net0) / hs_total,
	       (mem1 - mem0) / hs_total * win, 1e6 * (cpu1 - cpu0) / hs_total);
	fflush(stdout);
	mm_redis_writer_free(cx.w);
	if (!keep)
		freeReplyObject(redisCommand(rc, "FLUSHALL"));
	redisFree(rc);
	return 0;
fail:
	mm_redis_writer_free(cx.w);
	redisFree(rc);
	return -1;
}

int main(int argc, char **argv)
{
	unsigned sizes[8] = { 10000, 100000, 1000000 }, nsizes = 3, steps = 0, win = 6;
	const char *sock = NULL;
	struct event_base *base;
	struct mm_config cfg;
	struct srv srv;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "n:k:w:s:K")) != -1) {
		switch (opt) {
		case 'n':
			nsizes = 0;
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t && nsizes < 8;
			     t = strtok_r(NULL, ",", &save))
				sizes[nsizes++] = (unsigned)strtoul(t, NULL, 10);
			break;
		case 'k':
			steps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			win = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			sock = optarg;
			break;
		case 'K':
			keep = 1;
			break;
		default:
			fprintf(stderr, "usage: bench_redis [-n N,N...] [-k steps] [-w window_steps] [-s socket] [-K]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	mm_log_init("bench_redis", 1, MM_LOG_WARN);
	base = event_base_new();
	mm_config_defaults(&cfg);
	snprintf(cfg.collector_id, sizeof(cfg.collector_id), "bench");
	if (sock == NULL) {
		if (srv_start(&srv, base) < 0) {
			printf("bench_redis: SKIP: cannot start redis-server\n");
			event_base_free(base);
			mm_config_free(&cfg);
			return 0;
		}
		sock = srv.sock;
	} else {
		srv.pid = 0;
	}
	snprintf(cfg.redis_socket, sizeof(cfg.redis_socket), "%s", sock);
	printf("Redis writer, unix socket, %u-step window; per step: build = serialise (intake held), flush = "
	       "end -> done mark acknowledged\n", win);
	printf("%9s %5s %9s %9s %9s %9s %8s %7s %12s %10s\n", "hosts", "steps", "build_ms", "build_max", "flush_ms",
	       "flush_max", "cmd/host", "B/host", "mem/host-win", "redis_us/h");
	for (unsigned i = 0; i < nsizes && rc == 0; i++)
		rc = run(base, &cfg, sizes[i], steps ? steps : sizes[i] >= 1000000 ? 3 : 6, win);
	if (srv.pid > 0)
		srv_stop(&srv);
	mm_config_free(&cfg);
	event_base_free(base);
	libevent_global_shutdown();
	return rc ? 1 : 0;
}
