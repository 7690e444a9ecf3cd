/*
 * fast_reader.c - reading the fast path's stream (fast_reader.h).
 */
#include <stdio.h>
#include <string.h>

#include "mamori/fast_reader.h"

#define PAGE 1000

/* One stream entry: [id, [field, value, ...]]; its id into id_out. */
static void entry(const redisReply *r, char id_out[MM_FAST_ID_MAX], mm_fast_read_fn fn, void *arg, uint64_t *bad)
{
	const char *names[2 * MM_FAST_FIELDS], *vals[2 * MM_FAST_FIELDS];
	size_t lens[2 * MM_FAST_FIELDS], n = 0;
	const redisReply *kv;
	struct mm_fast_event e;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
		(*bad)++;
		return;
	}
	if (r->element[0]->len < MM_FAST_ID_MAX)
		snprintf(id_out, MM_FAST_ID_MAX, "%s", r->element[0]->str);
	kv = r->element[1];
	if (kv->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0 || kv->elements > 4 * MM_FAST_FIELDS) {
		(*bad)++;
		return;
	}
	for (size_t i = 0; i + 1 < kv->elements; i += 2) {
		const redisReply *f = kv->element[i], *v = kv->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			(*bad)++;
			return;
		}
		if (n == 2 * MM_FAST_FIELDS)
			break; /* more fields than any version has: the parse says */
		names[n] = f->str; /* hiredis NUL-terminates; a NUL inside fails the parse */
		vals[n] = v->str;
		lens[n] = v->len;
		n++;
	}
	if (mm_fast_event_parse(n, names, vals, lens, &e) < 0) {
		(*bad)++;
		return;
	}
	fn(arg, &e);
}

long mm_fast_read_new(redisContext *c, const char *stream, char last_id[MM_FAST_ID_MAX], unsigned count,
		      mm_fast_read_fn fn, void *arg, uint64_t *bad)
{
	redisReply *r = redisCommand(c, "XREAD COUNT %u STREAMS %s %s", count, stream, last_id);
	long n = 0;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2 && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
		const redisReply *es = r->element[0]->element[1];

		for (size_t i = 0; i < es->elements; i++, n++)
			entry(es->element[i], last_id, fn, arg, bad);
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(c->errstr, sizeof(c->errstr), "%s", r->str);
		n = -1;
	}
	freeReplyObject(r); /* nil: nothing new */
	return n;
}

long mm_fast_read_all(redisContext *c, const char *stream, mm_fast_read_fn fn, void *arg, uint64_t *bad)
{
	char from[MM_FAST_ID_MAX + 1] = "-", last[MM_FAST_ID_MAX] = "";
	long total = 0;

	for (;;) {
		redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d", stream, from, PAGE);
		size_t got;

		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY) {
			if (r->type == REDIS_REPLY_ERROR)
				snprintf(c->errstr, sizeof(c->errstr), "%s", r->str);
			freeReplyObject(r);
			return -1;
		}
		got = r->elements;
		for (size_t i = 0; i < got; i++)
			entry(r->element[i], last, fn, arg, bad);
		freeReplyObject(r);
		total += (long)got;
		if (got < PAGE || last[0] == '\0')
			return total;
		/* the next page starts after the last id: "(" excludes it */
		snprintf(from, sizeof(from), "(%s", last);
	}
}
