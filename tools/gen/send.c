/*
 * send.c - UDP output: batches of datagrams handed to the kernel with one
 * sendmmsg() each, paced on CLOCK_MONOTONIC.
 *
 * Pacing (a datagram's due time, relative to the first send):
 *   realtime  its scenario time minus the scenario start (the default:
 *             one scenario second per wall second)
 *   rate      the flow records queued before it / --rate
 *   max       now
 * A batch goes out when it is full (--batch) or when the next datagram is
 * due more than HOLD_NS after the batch's first, after sleeping until that
 * first one is due (absolute deadlines: oversleeping never accumulates).
 *
 * Benchmark mode (gen_pool_run): --pool N data datagrams of background
 * are encoded once; the send loop only patches each one's sequence number
 * and timestamps (a few stores per record) and points the iovec at it.
 * Stamps there follow the wall clock from --start, as a live router's.
 * Nothing is allocated after start-up in either mode.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"

#define HOLD_NS 2000000ull   /* at most 2 ms of traffic per batch when paced */
#define TSLOT 1024           /* template datagram slot */

struct gen_sender {
	struct gen_sender_cfg c;
	int fd;
	struct mmsghdr *msgs;
	struct iovec *iov;
	unsigned *flows;      /* flow records per queued datagram */
	uint8_t *is_tmpl;
	uint8_t *slots;       /* c.batch copies of datagrams (scenario mode) */
	size_t slot_size;
	unsigned n;           /* queued */
	uint64_t first_due;   /* due time of the first queued datagram (ns from start) */
	uint64_t queued_flows;/* flow records handed to the sender so far */
	uint64_t start_ns;
	int started;
	int refused_warned;
	struct gen_send_stats st;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(struct gen_sender *s, uint64_t due_ns)
{
	uint64_t abs_ns = s->start_ns + due_ns;
	struct timespec ts = { (time_t)(abs_ns / 1000000000ull), (long)(abs_ns % 1000000000ull) };

	/* EINTR: a signal; stop waiting when it asked us to stop. */
	for (int i = 0; i < 1000; i++) {
		if (s->c.stop && *s->c.stop)
			return;
		int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (rc != EINTR)
			return;
	}
}

struct gen_sender *gen_sender_open(const struct gen_sender_cfg *c, char *err, size_t errlen)
{
	struct gen_sender *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->c = *c;
	s->fd = -1;
	if (s->c.batch == 0)
		s->c.batch = 64;
	s->slot_size = GEN_DGRAM_MAX;
	s->msgs = calloc(s->c.batch, sizeof(*s->msgs));
	s->iov = calloc(s->c.batch, sizeof(*s->iov));
	s->flows = calloc(s->c.batch, sizeof(*s->flows));
	s->is_tmpl = calloc(s->c.batch, 1);
	s->slots = malloc((size_t)s->c.batch * s->slot_size);
	if (!s->msgs || !s->iov || !s->flows || !s->is_tmpl || !s->slots) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	memset(&ss, 0, sizeof(ss));
	if (c->dst_af == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->dport);
		memcpy(&sin->sin_addr, c->dst + 12, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->dport);
		memcpy(&sin6->sin6_addr, c->dst, 16);
		sl = sizeof(*sin6);
	}
	s->fd = socket(c->dst_af == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	int sndbuf = 4 << 20;
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (c->has_bind) {
		struct sockaddr_in b = { .sin_family = AF_INET };
		memcpy(&b.sin_addr, c->bind4, 4);
		if (c->dst_af != 4) {
			snprintf(err, errlen, "--exporter is IPv4; the destination is IPv6");
			goto fail;
		}
		if (bind(s->fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
			snprintf(err, errlen, "bind to the --exporter address: %s", strerror(errno));
			goto fail;
		}
	}
	if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < s->c.batch; i++) {
		s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
		s->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return s;
fail:
	gen_sender_close(s);
	return NULL;
}

void gen_sender_close(struct gen_sender *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->msgs);
	free(s->iov);
	free(s->flows);
	free(s->is_tmpl);
	free(s->slots);
	free(s);
}

static void start_clock(struct gen_sender *s)
{
	if (!s->started) {
		s->start_ns = mono_ns();
		s->started = 1;
	}
}

/* Hand the queued datagrams to the kernel. */
static void send_batch(struct gen_sender *s)
{
	unsigned done = 0;

	/* Each pass either sends >= 1 datagram or drops one: <= n passes,
	 * plus a bounded number of EINTR retries. */
	for (unsigned tries = 0; done < s->n && tries < 2 * s->n + 64; tries++) {
		int r = sendmmsg(s->fd, s->msgs + done, s->n - done, 0);
		if (r > 0) {
			for (unsigned i = done; i < done + (unsigned)r; i++) {
				s->st.datagrams++;
				s->st.flows += s->flows[i];
				s->st.tmpl_datagrams += s->is_tmpl[i];
				s->st.bytes += s->iov[i].iov_len;
			}
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* Refused (no listener: ICMP port unreachable), no buffer space:
		 * this datagram is lost, count it and go on. */
		if (r < 0 && errno == ECONNREFUSED && !s->refused_warned) {
			fprintf(stderr, "mamori-gen: warning: the destination refuses datagrams (nothing listening?)\n");
			s->refused_warned = 1;
		}
		s->st.send_errors++;
		done++;
	}
	s->st.send_errors += s->n - done;
	s->n = 0;
}

static void flush_paced(struct gen_sender *s)
{
	if (s->n == 0)
		return;
	if (s->c.pace != GEN_PACE_MAX)
		sleep_until(s, s->first_due);
	send_batch(s);
}

static uint64_t due_of(const struct gen_sender *s, uint64_t t_ms)
{
	switch (s->c.pace) {
	case GEN_PACE_REALTIME:
		return t_ms > s->c.t0_ms ? (t_ms - s->c.t0_ms) * 1000000ull : 0;
	case GEN_PACE_RATE:
		return (uint64_t)((double)s->queued_flows / s->c.rate * 1e9);
	default:
		return 0;
	}
}

int gen_sender_sink(void *arg, const struct gen_dgram *d)
{
	struct gen_sender *s = arg;
	uint64_t due;

	start_clock(s);
	due = due_of(s, d->t_ms);
	if (s->n > 0 && s->c.pace != GEN_PACE_MAX && due > s->first_due + HOLD_NS)
		flush_paced(s);
	if (s->n == 0)
		s->first_due = due;
	if (d->len > s->slot_size)
		return -1;
	uint8_t *slot = s->slots + (size_t)s->n * s->slot_size;
	memcpy(slot, d->buf, d->len);
	s->iov[s->n].iov_base = slot;
	s->iov[s->n].iov_len = d->len;
	s->flows[s->n] = d->flows;
	s->is_tmpl[s->n] = (uint8_t)d->is_template;
	s->n++;
	s->queued_flows += d->flows;
	if (s->n == s->c.batch)
		flush_paced(s);
	return 0;
}

void gen_sender_finish(struct gen_sender *s)
{
	start_clock(s);
	flush_paced(s);
	s->st.elapsed_s = (double)(mono_ns() - s->start_ns) / 1e9;
}

const struct gen_send_stats *gen_sender_stats(const struct gen_sender *s)
{
	return &s->st;
}

/* ------------------------------------------------------------------ */
/* Benchmark pool                                                       */

struct pool {
	uint8_t *buf;      /* n * stride */
	size_t stride;
	size_t *len;
	unsigned *flows;
	uint64_t *stamp;   /* the time its records are currently relative to */
	unsigned n, cap;
	uint64_t total_flows;
};

static int pool_put(void *arg, const struct gen_dgram *d)
{
	struct pool *p = arg;
	if (d->is_template || p->n >= p->cap)
		return 0;
	if (d->len > p->stride)
		return -1;
	memcpy(p->buf + (size_t)p->n * p->stride, d->buf, d->len);
	p->len[p->n] = d->len;
	p->flows[p->n] = d->flows;
	p->stamp[p->n] = d->t_ms;
	p->total_flows += d->flows;
	p->n++;
	return 0;
}

static void pool_free(struct pool *p)
{
	free(p->buf);
	free(p->len);
	free(p->flows);
	free(p->stamp);
}

int gen_pool_run(struct gen_sender *s, struct gen_exporter *x, struct gen_scenario *scn,
		 const struct gen_pool_cfg *c, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct pool p = { 0 };
	struct gen_exporter_cfg xc = x->c;
	struct gen_sink real = x->sink;
	struct mm_flow f;
	uint8_t *tslots = NULL;
	int rc = -1;

	p.cap = c->datagrams < s->c.batch ? s->c.batch : c->datagrams;
	p.stride = (x->budget + 63) & ~(size_t)63;
	if ((double)p.cap * (double)p.stride > 512.0 * 1024 * 1024) {
		snprintf(err, errlen, "--pool %u: %u datagrams of %zu bytes exceed 512 MiB", c->datagrams, p.cap,
			 p.stride);
		return -1;
	}
	p.buf = malloc((size_t)p.cap * p.stride);
	p.len = calloc(p.cap, sizeof(*p.len));
	p.flows = calloc(p.cap, sizeof(*p.flows));
	p.stamp = calloc(p.cap, sizeof(*p.stamp));
	tslots = malloc((size_t)s->c.batch * TSLOT);
	if (!p.buf || !p.len || !p.flows || !p.stamp || !tslots) {
		snprintf(err, errlen, "out of memory for the pool");
		goto out;
	}

	/* Encode the pool from the scenario's background (no tick flushes:
	 * full datagrams).  Every max_rec records close a datagram, so this
	 * ends after at most cap * max_rec records. */
	struct gen_sink ps = { pool_put, &p };
	if (gen_exporter_init(x, &xc, &ps, err, errlen) < 0)
		goto out;
	uint64_t limit = (uint64_t)p.cap * x->max_rec + 1, n;
	for (n = 0; p.n < p.cap && n < limit && !x->failed; n++) {
		uint64_t t_ms = scn->t0_ms + (uint64_t)((double)n * 1000.0 / (scn->bg_rate > 0 ? scn->bg_rate : 1000.0));
		gen_traffic_next(scn->traffic, t_ms, &f);
		f.format = xc.fmt->version;
		f.domain = xc.domain;
		f.template_id = xc.fmt->template_id(f.af);
		gen_exporter_add(x, &f, t_ms);
	}
	if (p.n < p.cap)
		gen_exporter_flush(x, x->last_ms);
	if (x->failed || p.n == 0) {
		snprintf(err, errlen, "could not build the datagram pool");
		goto out;
	}
	/* Fresh exporter state for the real stream. */
	if (gen_exporter_init(x, &xc, &real, err, errlen) < 0)
		goto out;

	double per_dgram = (double)p.total_flows / p.n;
	unsigned batch = s->c.batch;
	if (s->c.pace == GEN_PACE_RATE) {
		double b = s->c.rate * (HOLD_NS / 2 / 1e9) / per_dgram; /* ~1 ms of traffic */
		if (b < batch)
			batch = b < 1 ? 1 : (unsigned)b;
	}
	double rate = s->c.pace == GEN_PACE_RATE ? s->c.rate : s->c.pace == GEN_PACE_REALTIME ? scn->bg_rate : 0;

	unsigned idx = 0;
	start_clock(s);
	uint64_t sent_flows = 0;
	for (uint64_t loop = 0; !(stop && *stop); loop++) {
		if (c->count && sent_flows >= c->count)
			break;
		if (rate > 0)
			sleep_until(s, (uint64_t)((double)sent_flows / rate * 1e9));
		uint64_t now = mono_ns() - s->start_ns;
		if (c->duration_s >= 0 && (double)now / 1e9 >= c->duration_s)
			break;
		uint64_t now_ms = scn->t0_ms + now / 1000000ull;
		s->n = 0;
		for (unsigned i = 0; i < batch; i++) {
			if (c->count && sent_flows >= c->count)
				break;
			if (gen_exporter_template_due(x)) {
				uint8_t *ts = tslots + (size_t)i * TSLOT;
				size_t len = gen_exporter_template_dgram(x, ts, TSLOT, now_ms);
				s->iov[i].iov_base = ts;
				s->iov[i].iov_len = len;
				s->flows[i] = 0;
				s->is_tmpl[i] = 1;
			} else {
				uint8_t *b = p.buf + (size_t)idx * p.stride;
				gen_exporter_restamp(x, b, p.len[idx], p.flows[idx], &p.stamp[idx], now_ms);
				s->iov[i].iov_base = b;
				s->iov[i].iov_len = p.len[idx];
				s->flows[i] = p.flows[idx];
				s->is_tmpl[i] = 0;
				sent_flows += p.flows[idx];
				idx = idx + 1 == p.n ? 0 : idx + 1;
			}
			s->n++;
		}
		send_batch(s);
	}
	s->st.elapsed_s = (double)(mono_ns() - s->start_ns) / 1e9;
	rc = 0;
out:
	free(tslots);
	pool_free(&p);
	return rc;
}
