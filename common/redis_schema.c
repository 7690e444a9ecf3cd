/*
 * redis_schema.c - key names, value encodings, the function library and
 * the synchronous reader (redis_schema.h; prose in docs/redis-schema.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "mamori/log.h"
#include "mamori/redis_schema.h"

/*
 * The function library.  HSET/SADD go in chunks because Lua's unpack()
 * has a stack limit (~8000 values); 1000 keeps HSET's field/value pairs
 * aligned.  EXPIRE after every write: the TTL counts from the last write of
 * any collector, so a step re-sent late still lives `retention` seconds.
 */
const char mm_redis_lua_lib[] =
	"#!lua name=mamori\n"
	"-- mamori function library, version 1: docs/redis-schema.md\n"
	"local function chunked(cmd, key, args, first, per)\n"
	"  local n = #args\n"
	"  local i = first\n"
	"  while i <= n do\n"
	"    local j = i + per - 1\n"
	"    if j > n then j = n end\n"
	"    redis.call(cmd, key, unpack(args, i, j))\n"
	"    i = j + 1\n"
	"  end\n"
	"end\n"
	"local function ttl_of(args, name)\n"
	"  local ttl = tonumber(args[1])\n"
	"  if not ttl or ttl < 1 or ttl ~= math.floor(ttl) then\n"
	"    return nil, redis.error_reply('ERR ' .. name .. ': bad ttl')\n"
	"  end\n"
	"  return ttl\n"
	"end\n"
	"redis.register_function('mm_put', function(keys, args)\n"
	"  local n = #args\n"
	"  if #keys ~= 1 or n < 3 or n % 2 ~= 1 then\n"
	"    return redis.error_reply('ERR mm_put: one key, a ttl and field/value pairs expected')\n"
	"  end\n"
	"  local ttl, e = ttl_of(args, 'mm_put')\n"
	"  if not ttl then return e end\n"
	"  chunked('HSET', keys[1], args, 2, 1000)\n"
	"  redis.call('EXPIRE', keys[1], ttl)\n"
	"  return (n - 1) / 2\n"
	"end)\n"
	"redis.register_function('mm_add', function(keys, args)\n"
	"  local n = #args\n"
	"  if #keys ~= 1 or n < 2 then\n"
	"    return redis.error_reply('ERR mm_add: one key, a ttl and members expected')\n"
	"  end\n"
	"  local ttl, e = ttl_of(args, 'mm_add')\n"
	"  if not ttl then return e end\n"
	"  chunked('SADD', keys[1], args, 2, 1000)\n"
	"  redis.call('EXPIRE', keys[1], ttl)\n"
	"  return n - 1\n"
	"end)\n"
	"redis.register_function{function_name = 'mm_version', flags = {'no-writes'},\n"
	"  callback = function() return 1 end}\n";

/* ---- addresses and keys ---- */

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

size_t mm_redis_addr_text(const uint8_t addr[16], char *out, size_t outlen)
{
	const char *r;

	if (memcmp(addr, v4mapped, 12) == 0)
		r = inet_ntop(AF_INET, addr + 12, out, (socklen_t)outlen);
	else
		r = inet_ntop(AF_INET6, addr, out, (socklen_t)outlen);
	if (r == NULL) {
		if (outlen)
			out[0] = '\0';
		return 0;
	}
	return strlen(out);
}

int mm_redis_addr_parse(const char *text, size_t len, uint8_t addr[16])
{
	char buf[MM_REDIS_ADDR_MAX];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (memchr(buf, ':', len) == NULL) {
		memcpy(addr, v4mapped, 12);
		return inet_pton(AF_INET, buf, addr + 12) == 1 ? 0 : -1;
	}
	return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : -1;
}

unsigned mm_redis_shard(const uint8_t addr[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++) {
		h ^= addr[i];
		h *= 16777619u;
	}
	return h % MM_REDIS_IDX_SHARDS;
}

/* snprintf into a key buffer; the formats below cannot exceed
 * MM_REDIS_KEY_MAX (45 address chars + 20 step digits + 16 fixed). */
static MM_PRINTF(2, 3) size_t key_fmt(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, MM_REDIS_KEY_MAX, fmt, ap);
	va_end(ap);
	return n < 0 ? 0 : (size_t)n;
}

char *mm_redis_put_dec(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Built by hand, not snprintf + inet_ntop: the writer builds one per host
 * per step.  IPv6 (rarer) still goes through inet_ntop for RFC 5952. */
size_t mm_rkey_host(char *out, const uint8_t addr[16], uint64_t step)
{
	char *p = out;

	memcpy(p, "mm:h:{", 6);
	p += 6;
	if (memcmp(addr, v4mapped, 12) == 0) {
		for (int i = 12; i < 16; i++) {
			p = mm_redis_put_dec(p, addr[i]);
			*p++ = i < 15 ? '.' : '}';
		}
	} else {
		p += mm_redis_addr_text(addr, p, MM_REDIS_ADDR_MAX);
		*p++ = '}';
	}
	*p++ = ':';
	p = mm_redis_put_dec(p, step);
	*p = '\0';
	return (size_t)(p - out);
}

size_t mm_rkey_index(char *out, uint64_t step, unsigned shard)
{
	return key_fmt(out, "mm:idx:%" PRIu64 ":%u", step, shard);
}

size_t mm_rkey_done(char *out, uint64_t step)
{
	return key_fmt(out, "mm:done:%" PRIu64, step);
}

size_t mm_rkey_stat(char *out, uint64_t step)
{
	return key_fmt(out, "mm:stat:%" PRIu64, step);
}

size_t mm_rkey_xstat(char *out, uint64_t step)
{
	return key_fmt(out, "mm:xstat:%" PRIu64, step);
}

size_t mm_rkey_exporter_state(char *out, const uint8_t exporter[16])
{
	char a[MM_REDIS_ADDR_MAX];

	mm_redis_addr_text(exporter, a, sizeof(a));
	return key_fmt(out, "mm:tpl:{%s}", a);
}

const char *mm_redis_topk_name(enum mm_redis_topk t)
{
	static const char *const names[MM_RT_COUNT] = {
		"peers_in", "peers_out", "dports_in", "sports_in", "dports_out",
	};
	return (unsigned)t < MM_RT_COUNT ? names[t] : "?";
}

/* ---- value encodings ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* 0 on success; a varint longer than 10 bytes or past the end is bad. */
static int get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (*off >= len)
			return -1;
		uint8_t b = p[(*off)++];
		if (shift == 63 && b > 1)
			return -1;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* Non-zero bytes of a word (the classic has-zero-byte trick, per byte). */
static unsigned nz_bytes(uint64_t v)
{
	uint64_t t = (v & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full;
	t = ((t | v) & 0x8080808080808080ull) >> 7;
	/* the sum of the eight 0/1 bytes lands in the top byte (no
	 * popcount instruction without -mpopcnt) */
	return (unsigned)((t * 0x0101010101010101ull) >> 56);
}

/* Runs for every sketch of every host at each step: registers are scanned
 * a word at a time (most hosts have a handful of non-zero ones). */
size_t mm_redis_enc_hll(const struct mm_hll *h, uint8_t out[MM_REDIS_HLL_ENC_MAX])
{
	uint64_t wd[MM_HLL_REGS / 8];
	unsigned nz = 0;

	memcpy(wd, h->reg, sizeof(wd));
	for (unsigned i = 0; i < MM_HLL_REGS / 8; i++)
		nz += nz_bytes(wd[i]);
	if (nz == 0)
		return 0;
	/* Pairs are shorter below half full; at or above it the dense form
	 * (exactly 64 bytes, which no pair list can be) is. */
	if (2 * nz >= MM_HLL_REGS) {
		memcpy(out, h->reg, MM_HLL_REGS);
		return MM_HLL_REGS;
	}
	size_t n = 0;
	for (unsigned k = 0; k < MM_HLL_REGS / 8; k++) {
		if (wd[k] == 0)
			continue;
		for (unsigned i = 8 * k; i < 8 * k + 8; i++)
			if (h->reg[i]) {
				out[n++] = (uint8_t)i;
				out[n++] = h->reg[i];
			}
	}
	return n;
}

int mm_redis_dec_hll(const uint8_t *p, size_t len, struct mm_hll *h)
{
	struct mm_hll t;

	if (len == MM_HLL_REGS) {
		memcpy(h->reg, p, MM_HLL_REGS);
		return 0;
	}
	if (len == 0 || len % 2 || len > MM_HLL_REGS)
		return -1;
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < len; i += 2) {
		if (p[i] >= MM_HLL_REGS || p[i + 1] == 0)
			return -1;
		t.reg[p[i]] = p[i + 1];
	}
	*h = t;
	return 0;
}

size_t mm_redis_enc_topk_addr(const struct mm_topk_addr t[MM_TOPK], uint8_t out[MM_REDIS_TOPK_ENC_MAX])
{
	size_t n = 0;

	for (unsigned i = 0; i < MM_TOPK; i++) {
		if (t[i].count == 0)
			continue;
		if (memcmp(t[i].addr, v4mapped, 12) == 0) {
			out[n++] = 4;
			memcpy(out + n, t[i].addr + 12, 4);
			n += 4;
		} else {
			out[n++] = 16;
			memcpy(out + n, t[i].addr, 16);
			n += 16;
		}
		n += put_varint(out + n, t[i].count);
	}
	return n;
}

int mm_redis_dec_topk_addr(const uint8_t *p, size_t len, struct mm_topk_addr t[MM_TOPK])
{
	struct mm_topk_addr tmp[MM_TOPK];
	size_t off = 0;
	unsigned k = 0;

	memset(tmp, 0, sizeof(tmp));
	while (off < len) {
		if (k == MM_TOPK)
			return -1;
		uint8_t alen = p[off++];
		if ((alen != 4 && alen != 16) || len - off < alen)
			return -1;
		if (alen == 4) {
			memcpy(tmp[k].addr, v4mapped, 12);
			memcpy(tmp[k].addr + 12, p + off, 4);
		} else {
			memcpy(tmp[k].addr, p + off, 16);
		}
		off += alen;
		if (get_varint(p, len, &off, &tmp[k].count) < 0 || tmp[k].count == 0)
			return -1;
		k++;
	}
	if (k == 0)
		return -1;
	memcpy(t, tmp, sizeof(tmp));
	return 0;
}

size_t mm_redis_enc_topk_port(const struct mm_topk_port t[MM_TOPK], uint8_t out[MM_REDIS_TOPK_ENC_MAX])
{
	size_t n = 0;

	for (unsigned i = 0; i < MM_TOPK; i++) {
		if (t[i].count == 0)
			continue;
		out[n++] = (uint8_t)(t[i].port >> 8);
		out[n++] = (uint8_t)t[i].port;
		n += put_varint(out + n, t[i].count);
	}
	return n;
}

int mm_redis_dec_topk_port(const uint8_t *p, size_t len, struct mm_topk_port t[MM_TOPK])
{
	struct mm_topk_port tmp[MM_TOPK];
	size_t off = 0;
	unsigned k = 0;

	memset(tmp, 0, sizeof(tmp));
	while (off < len) {
		if (k == MM_TOPK || len - off < 2)
			return -1;
		tmp[k].port = (uint16_t)(p[off] << 8 | p[off + 1]);
		off += 2;
		if (get_varint(p, len, &off, &tmp[k].count) < 0 || tmp[k].count == 0)
			return -1;
		k++;
	}
	if (k == 0)
		return -1;
	memcpy(t, tmp, sizeof(tmp));
	return 0;
}

double mm_redis_completeness(uint64_t records, uint64_t lost_records, uint64_t datagrams,
			     uint64_t lost_packets)
{
	double r = 1.0, p = 1.0;

	if (records + lost_records > 0)
		r = (double)records / ((double)records + (double)lost_records);
	if (datagrams + lost_packets > 0)
		p = (double)datagrams / ((double)datagrams + (double)lost_packets);
	return r * p;
}

/* ---- reader ---- */

struct ctr_ent {
	const char *name;
	int ctr;
};

/* One collector's contribution to one host-step, decoded before it is
 * folded in with mm_hoststep_merge (top-K and HLL need whole lists). */
struct slot {
	char id[MM_NAME_MAX];
	struct mm_hoststep hs;
};

struct mm_redis_reader {
	redisContext *c;
	struct ctr_ent names[MM_C_COUNT]; /* sorted by name, for bsearch */
	struct slot *slots;               /* per collector of the hash being decoded */
	unsigned nslots, slots_cap;
	char err[256];
};

static int ctr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ctr_ent *)a)->name, ((const struct ctr_ent *)b)->name);
}

static void rerr(struct mm_redis_reader *r, const char *what)
{
	if (r->c && r->c->err)
		snprintf(r->err, sizeof(r->err), "%s: %s", what, r->c->errstr);
	else
		snprintf(r->err, sizeof(r->err), "%s", what);
}

/* Connect, AUTH, SELECT: shared by the reader and the loader.  NULL with
 * err filled. */
static redisContext *sync_connect(const struct mm_config *cfg, unsigned timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
	redisContext *c;
	redisReply *rep;

	if (cfg->redis_socket[0])
		c = redisConnectUnixWithTimeout(cfg->redis_socket, tv);
	else
		c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
	if (c == NULL) {
		snprintf(err, errlen, "redis: out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(err, errlen, "redis: connect to %s: %s",
			 cfg->redis_socket[0] ? cfg->redis_socket : cfg->redis_host, c->errstr);
		goto fail;
	}
	/* A stalled server must not hang start-up or the CLI. */
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "redis: set timeout: %s", c->errstr);
		goto fail;
	}
	if (cfg->redis_password[0] || cfg->redis_user[0]) {
		if (cfg->redis_user[0])
			rep = redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password);
		else
			rep = redisCommand(c, "AUTH %s", cfg->redis_password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis: AUTH: %s", rep ? rep->str : c->errstr);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (cfg->redis_db) {
		rep = redisCommand(c, "SELECT %d", cfg->redis_db);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis: SELECT %d: %s", cfg->redis_db, rep ? rep->str : c->errstr);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

struct mm_redis_reader *mm_redis_reader_open(const struct mm_config *cfg, unsigned timeout_ms, char *err,
					     size_t errlen)
{
	struct mm_redis_reader *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "redis reader: out of memory");
		return NULL;
	}
	for (int i = 0; i < MM_C_COUNT; i++) {
		r->names[i].name = mm_ctr_name((enum mm_ctr)i);
		r->names[i].ctr = i;
		if (r->names[i].name == NULL) {
			snprintf(err, errlen, "redis reader: counter %d has no name", i);
			free(r);
			return NULL;
		}
	}
	qsort(r->names, MM_C_COUNT, sizeof(r->names[0]), ctr_cmp);
	r->c = sync_connect(cfg, timeout_ms, err, errlen);
	if (r->c == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void mm_redis_reader_close(struct mm_redis_reader *r)
{
	if (r == NULL)
		return;
	if (r->c)
		redisFree(r->c);
	free(r->slots);
	free(r);
}

const char *mm_redis_reader_error(const struct mm_redis_reader *r)
{
	return r->err;
}

static void contrib_add(struct mm_redis_contrib *who, const char *id)
{
	for (unsigned i = 0; i < who->n; i++)
		if (strcmp(who->id[i], id) == 0)
			return;
	if (who->n < MM_REDIS_CONTRIB_MAX)
		snprintf(who->id[who->n++], MM_NAME_MAX, "%s", id);
	else
		who->more++; /* not exact across steps once the list is full */
}

static struct slot *slot_for(struct mm_redis_reader *r, const char *id, size_t idlen)
{
	if (idlen == 0 || idlen >= MM_NAME_MAX)
		return NULL;
	for (unsigned i = 0; i < r->nslots; i++)
		if (strncmp(r->slots[i].id, id, idlen) == 0 && r->slots[i].id[idlen] == '\0')
			return &r->slots[i];
	if (r->nslots == r->slots_cap) {
		unsigned cap = r->slots_cap ? 2 * r->slots_cap : 4;
		struct slot *s = realloc(r->slots, cap * sizeof(*s));
		if (s == NULL)
			return NULL;
		r->slots = s;
		r->slots_cap = cap;
	}
	struct slot *s = &r->slots[r->nslots++];
	memcpy(s->id, id, idlen);
	s->id[idlen] = '\0';
	memset(&s->hs, 0, sizeof(s->hs));
	return s;
}

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t r = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (r > (UINT64_MAX - d) / 10)
			return -1;
		r = r * 10 + d;
	}
	*v = r;
	return 0;
}

/* One field of a host hash into its collector's slot. */
static int decode_field(struct mm_redis_reader *r, const redisReply *f, const redisReply *v)
{
	const char *colon;
	struct slot *s;
	const char *name;
	const uint8_t *val = (const uint8_t *)v->str;
	size_t vlen = v->len;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
		return -1;
	colon = memchr(f->str, ':', f->len);
	if (colon == NULL || (s = slot_for(r, f->str, (size_t)(colon - f->str))) == NULL)
		return -1;
	name = colon + 1;
	if (strncmp(name, "hll:", 4) == 0) {
		for (int k = 0; k < MM_S_COUNT; k++)
			if (strcmp(name + 4, mm_sketch_name((enum mm_sketch)k)) == 0)
				return mm_redis_dec_hll(val, vlen, &s->hs.hll[k]);
		return -1;
	}
	if (strncmp(name, "top:", 4) == 0) {
		for (int k = 0; k < MM_RT_COUNT; k++) {
			if (strcmp(name + 4, mm_redis_topk_name((enum mm_redis_topk)k)) != 0)
				continue;
			if (k == MM_RT_PEERS_IN)
				return mm_redis_dec_topk_addr(val, vlen, s->hs.peers_in);
			if (k == MM_RT_PEERS_OUT)
				return mm_redis_dec_topk_addr(val, vlen, s->hs.peers_out);
			return mm_redis_dec_topk_port(val, vlen, s->hs.ports[k - MM_RT_DPORTS_IN]);
		}
		return -1;
	}
	struct ctr_ent key = { name, 0 };
	const struct ctr_ent *e = bsearch(&key, r->names, MM_C_COUNT, sizeof(r->names[0]), ctr_cmp);
	if (e == NULL)
		return -1;
	return parse_u64(v->str, vlen, &s->hs.ctr[e->ctr]);
}

/* A whole HGETALL reply of a host key, folded into out.  1 when it held
 * data, 0 when empty, -1 on a reply of the wrong shape. */
static int decode_host(struct mm_redis_reader *r, const redisReply *rep, struct mm_hoststep *out,
		       struct mm_redis_contrib *who)
{
	uint32_t bad = 0;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
		return -1;
	if (rep->elements == 0)
		return 0;
	r->nslots = 0;
	for (size_t i = 0; i < rep->elements; i += 2)
		if (decode_field(r, rep->element[i], rep->element[i + 1]) < 0)
			bad++;
	for (unsigned i = 0; i < r->nslots; i++) {
		mm_hoststep_merge(out, &r->slots[i].hs);
		if (who)
			contrib_add(who, r->slots[i].id);
	}
	if (who) {
		who->bad_fields += bad;
		who->steps++;
	}
	return 1;
}

/* The pipelined HGETALL loop both readers share: request i is host
 * host_of(i)'s key at step step_of(i), folded into out[host_of(i)]. */
struct read_plan {
	const uint8_t (*addrs)[16];
	/* ranges: host i / nsteps at first + i % nsteps */
	uint64_t first;
	uint32_t nsteps;
	/* pairs */
	const struct mm_redis_pair *pairs;
};

static void plan_at(const struct read_plan *p, size_t i, size_t *host, uint64_t *step)
{
	if (p->pairs != NULL) {
		*host = p->pairs[i].host;
		*step = p->pairs[i].step;
	} else {
		*host = i / p->nsteps;
		*step = p->first + i % p->nsteps;
	}
}

static int read_plan(struct mm_redis_reader *r, const struct read_plan *p, size_t total, size_t nout,
		     struct mm_hoststep *out, struct mm_redis_contrib *who)
{
	size_t sent = 0, got = 0;
	char key[MM_REDIS_KEY_MAX];

	if (r->c == NULL) {
		snprintf(r->err, sizeof(r->err), "not connected");
		return -1;
	}
	for (size_t i = 0; i < nout; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (who)
			memset(&who[i], 0, sizeof(who[i]));
	}
	/* Pipeline: keep at most MM_REDIS_READ_CHUNK replies outstanding so
	 * neither side buffers an unbounded amount. */
	while (got < total) {
		while (sent < total && sent - got < MM_REDIS_READ_CHUNK) {
			size_t h;
			uint64_t st;

			plan_at(p, sent, &h, &st);
			size_t klen = mm_rkey_host(key, p->addrs[h], st);
			const char *argv[2] = { "HGETALL", key };
			size_t argl[2] = { 7, klen };
			if (redisAppendCommandArgv(r->c, 2, argv, argl) != REDIS_OK) {
				rerr(r, "HGETALL");
				return -1;
			}
			sent++;
		}
		void *v;
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			rerr(r, "HGETALL reply");
			return -1;
		}
		size_t h;
		uint64_t st;
		plan_at(p, got, &h, &st);
		int rc = decode_host(r, v, &out[h], who ? &who[h] : NULL);
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "HGETALL: %s",
				 ((redisReply *)v)->type == REDIS_REPLY_ERROR ? ((redisReply *)v)->str : "not an array");
			freeReplyObject(v);
			/* The connection still has replies in flight: unusable. */
			redisFree(r->c);
			r->c = NULL;
			return -1;
		}
		freeReplyObject(v);
		got++;
	}
	return 0;
}

int mm_redis_read_hosts(struct mm_redis_reader *r, const uint8_t (*addrs)[16], size_t n, uint64_t first,
			uint32_t nsteps, struct mm_hoststep *out, struct mm_redis_contrib *who)
{
	struct read_plan p = { addrs, first, nsteps ? nsteps : 1, NULL };

	return read_plan(r, &p, nsteps ? n * nsteps : 0, n, out, who);
}

int mm_redis_read_pairs(struct mm_redis_reader *r, const uint8_t (*addrs)[16], size_t n,
			const struct mm_redis_pair *pairs, size_t npairs, struct mm_hoststep *out,
			struct mm_redis_contrib *who)
{
	struct read_plan p = { addrs, 0, 1, pairs };

	for (size_t i = 0; i < npairs; i++)
		if (pairs[i].host >= n) {
			snprintf(r->err, sizeof(r->err), "read pairs: host %u of %zu", pairs[i].host, n);
			return -1;
		}
	return read_plan(r, &p, npairs, n, out, who);
}

int mm_redis_read_host(struct mm_redis_reader *r, const uint8_t addr[16], uint64_t first, uint32_t nsteps,
		       struct mm_hoststep *out, struct mm_redis_contrib *who)
{
	struct mm_redis_contrib tmp;
	const uint8_t(*a)[16] = (const uint8_t(*)[16])addr;

	if (r->c == NULL) {
		snprintf(r->err, sizeof(r->err), "not connected");
		return -1;
	}
	if (mm_redis_read_hosts(r, a, 1, first, nsteps, out, &tmp) < 0)
		return -1;
	if (who)
		*who = tmp;
	return (int)tmp.steps;
}

/* One synchronous command with an argv of NUL-terminated strings. */
static redisReply *cmd(struct mm_redis_reader *r, int argc, const char **argv)
{
	redisReply *rep;

	if (r->c == NULL) {
		snprintf(r->err, sizeof(r->err), "not connected");
		return NULL;
	}
	rep = redisCommandArgv(r->c, argc, argv, NULL);
	if (rep == NULL) {
		rerr(r, argv[0]);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(r->err, sizeof(r->err), "%s: %s", argv[0], rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

long mm_redis_host_steps(struct mm_redis_reader *r, const uint8_t addr[16], uint64_t *first, uint64_t *last)
{
	char key[MM_REDIS_KEY_MAX], pattern[MM_REDIS_KEY_MAX + 2], cursor[32] = "0";
	long n = 0;
	size_t plen = mm_rkey_host(key, addr, 0);

	/* "mm:h:{addr}:0" -> "mm:h:{addr}:*" */
	memcpy(pattern, key, plen - 1);
	memcpy(pattern + plen - 1, "*", 2);
	do {
		const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
		redisReply *rep = redisCommandArgv(r->c, 6, argv, NULL);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY ||
		    rep->element[0]->len >= sizeof(cursor)) {
			snprintf(r->err, sizeof(r->err), "SCAN: %s",
				 rep == NULL ? r->c->errstr : rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
			freeReplyObject(rep);
			return -1;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
		for (size_t i = 0; i < rep->element[1]->elements; i++) {
			const redisReply *k = rep->element[1]->element[i];
			char *end;
			if (k->type != REDIS_REPLY_STRING || k->len < plen)
				continue;
			unsigned long long st = strtoull(k->str + plen - 1, &end, 10);
			if (*end != '\0')
				continue;
			if (n == 0 || st < *first)
				*first = st;
			if (n == 0 || st > *last)
				*last = st;
			n++;
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

long mm_redis_read_index(struct mm_redis_reader *r, uint64_t step,
			 int (*fn)(void *arg, const uint8_t addr[16]), void *arg)
{
	char key[MM_REDIS_KEY_MAX];
	long n = 0;
	int stop = 0;

	if (r->c == NULL) {
		snprintf(r->err, sizeof(r->err), "not connected");
		return -1;
	}
	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++) {
		mm_rkey_index(key, step, s);
		const char *argv[2] = { "SMEMBERS", key };
		if (redisAppendCommandArgv(r->c, 2, argv, NULL) != REDIS_OK) {
			rerr(r, "SMEMBERS");
			return -1;
		}
	}
	/* Every reply is read even after fn says stop, to leave the
	 * connection clean. */
	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++) {
		void *v;
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			rerr(r, "SMEMBERS reply");
			return -1;
		}
		redisReply *rep = v;
		if (rep->type == REDIS_REPLY_ARRAY) {
			for (size_t i = 0; i < rep->elements && !stop; i++) {
				uint8_t a[16];
				const redisReply *m = rep->element[i];
				if (m->type != REDIS_REPLY_STRING || mm_redis_addr_parse(m->str, m->len, a) < 0)
					continue;
				n++;
				stop = fn(arg, a) != 0;
			}
		}
		freeReplyObject(rep);
	}
	return n;
}

long mm_redis_read_done(struct mm_redis_reader *r, uint64_t step,
			int (*fn)(void *arg, const char *collector, uint64_t hosts), void *arg)
{
	char key[MM_REDIS_KEY_MAX];
	const char *argv[2] = { "HGETALL", key };
	long n = 0;

	mm_rkey_done(key, step);
	redisReply *rep = cmd(r, 2, argv);
	if (rep == NULL)
		return -1;
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
		uint64_t v = 0;
		const redisReply *val = rep->element[i + 1];
		if (val->type == REDIS_REPLY_STRING)
			parse_u64(val->str, val->len, &v);
		n++;
		if (fn && fn(arg, rep->element[i]->str, v))
			break;
	}
	freeReplyObject(rep);
	return n;
}

long mm_redis_read_stats(struct mm_redis_reader *r, uint64_t step,
			 int (*fn)(void *arg, const char *collector, const char *exporter, const char *name,
				   const char *value),
			 void *arg)
{
	char key[MM_REDIS_KEY_MAX];
	const char *argv[2] = { "HGETALL", key };
	long n = 0;

	for (int x = 0; x < 2; x++) {
		if (x == 0)
			mm_rkey_stat(key, step);
		else
			mm_rkey_xstat(key, step);
		redisReply *rep = cmd(r, 2, argv);
		if (rep == NULL)
			return -1;
		for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
			const redisReply *f = rep->element[i], *v = rep->element[i + 1];
			char buf[MM_NAME_MAX + MM_REDIS_ADDR_MAX + 64];
			if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len >= sizeof(buf))
				continue;
			memcpy(buf, f->str, f->len + 1);
			/* collector ids and names hold no ':'; an IPv6
			 * exporter between them may. */
			char *c1 = strchr(buf, ':'), *c2 = strrchr(buf, ':');
			if (c1 == NULL || (x == 1 && c2 == c1) || (x == 0 && c2 != c1))
				continue;
			*c1 = '\0';
			*c2 = '\0';
			n++;
			if (fn && fn(arg, buf, x ? c1 + 1 : NULL, c2 + 1, v->str)) {
				freeReplyObject(rep);
				return n;
			}
		}
		freeReplyObject(rep);
	}
	return n;
}

/* HSCAN `key` on c, fn per field; fields used, or -1 (err filled). */
static long hscan_each(redisContext *c, const char *key, mm_redis_hash_fn fn, void *arg, char *err, size_t errlen)
{
	char cursor[32] = "0";
	long n = 0;

	/* HSCAN rather than HGETALL: a large hash is read in slices without
	 * blocking the server for the whole reply. */
	do {
		const char *argv[5] = { "HSCAN", key, cursor, "COUNT", "1000" };
		redisReply *rep = redisCommandArgv(c, 5, argv, NULL);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY ||
		    rep->element[0]->len >= sizeof(cursor)) {
			snprintf(err, errlen, "redis: HSCAN %s: %s", key,
				 rep == NULL ? c->errstr : rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
			freeReplyObject(rep);
			return -1;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
		const redisReply *kv = rep->element[1];
		for (size_t i = 0; i + 1 < kv->elements; i += 2) {
			const redisReply *f = kv->element[i], *v = kv->element[i + 1];
			if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			if (fn(arg, f->str, (const uint8_t *)v->str, v->len) == 0)
				n++;
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

long mm_redis_load_hash(const struct mm_config *cfg, const char *key, mm_redis_hash_fn fn, void *arg, char *err,
			size_t errlen)
{
	redisContext *c = sync_connect(cfg, 2000, err, errlen);

	if (c == NULL)
		return -1;
	long n = hscan_each(c, key, fn, arg, err, errlen);
	redisFree(c);
	return n;
}

struct state_arg {
	mm_redis_state_fn fn;
	void *arg;
	uint8_t exporter[16];
};

static int state_field(void *arg, const char *field, const uint8_t *val, size_t len)
{
	struct state_arg *a = arg;
	return a->fn(a->arg, a->exporter, field, val, len);
}

long mm_redis_load_exporter_states(const struct mm_config *cfg, mm_redis_state_fn fn, void *arg, char *err,
				   size_t errlen)
{
	char cursor[32] = "0";
	long n = 0;
	redisContext *c = sync_connect(cfg, 2000, err, errlen);

	if (c == NULL)
		return -1;
	do {
		const char *argv[6] = { "SCAN", cursor, "MATCH", "mm:tpl:{*}", "COUNT", "1000" };
		redisReply *rep = redisCommandArgv(c, 6, argv, NULL);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY ||
		    rep->element[0]->len >= sizeof(cursor)) {
			snprintf(err, errlen, "redis: SCAN: %s",
				 rep == NULL ? c->errstr : rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
			freeReplyObject(rep);
			redisFree(c);
			return -1;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
		const redisReply *keys = rep->element[1];
		for (size_t i = 0; i < keys->elements; i++) {
			const redisReply *k = keys->element[i];
			struct state_arg sa = { fn, arg, { 0 } };
			const char *lb, *rb;
			if (k->type != REDIS_REPLY_STRING || (lb = strchr(k->str, '{')) == NULL ||
			    (rb = strchr(lb, '}')) == NULL ||
			    mm_redis_addr_parse(lb + 1, (size_t)(rb - lb - 1), sa.exporter) < 0)
				continue; /* not one of ours */
			long m = hscan_each(c, k->str, state_field, &sa, err, errlen);
			if (m < 0) {
				freeReplyObject(rep);
				redisFree(c);
				return -1;
			}
			n += m;
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	redisFree(c);
	return n;
}
