/*
 * json_scan.c - the members of one flat JSON object (json_scan.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/json_scan.h"

#define MAX_DEPTH 64

const char *mm_json_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* p at '"': past the closing quote, or NULL. */
static const char *skip_string(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\') {
			if (*++p == '\0')
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Past one JSON value (nested objects and arrays skipped whole), or NULL. */
static const char *skip_value(const char *p)
{
	int depth = 0;

	p = mm_json_skip_ws(p);
	do {
		if (*p == '"') {
			if ((p = skip_string(p)) == NULL)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			if (++depth > MAX_DEPTH)
				return NULL;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (depth-- == 0)
				return NULL;
			p++;
		} else if (*p == '\0') {
			return NULL;
		} else if (depth == 0) {
			const char *s = p;
			p += strcspn(p, ",}] \t");
			if (p == s)
				return NULL;
		} else {
			p++;
		}
	} while (depth > 0);
	return p;
}

int mm_json_members(const char *text, const char *const *keys, size_t nkeys, struct mm_json_span *v)
{
	const char *p = mm_json_skip_ws(text);

	memset(v, 0, nkeys * sizeof(*v));
	if (*p++ != '{')
		return -1;
	p = mm_json_skip_ws(p);
	if (*p == '}')
		return *mm_json_skip_ws(p + 1) ? -1 : 0;
	for (;;) {
		if (*p != '"')
			return -1;
		const char *k = p + 1, *ke = skip_string(p);
		if (ke == NULL)
			return -1;
		p = mm_json_skip_ws(ke);
		if (*p++ != ':')
			return -1;
		p = mm_json_skip_ws(p);
		const char *ve = skip_value(p);
		if (ve == NULL)
			return -1;
		for (size_t i = 0; i < nkeys; i++)
			if ((size_t)(ke - 1 - k) == strlen(keys[i]) && memcmp(k, keys[i], (size_t)(ke - 1 - k)) == 0) {
				v[i].set = 1;
				v[i].str = *p == '"';
				v[i].p = v[i].str ? p + 1 : p;
				v[i].n = (size_t)(ve - p) - (v[i].str ? 2 : 0);
			}
		p = mm_json_skip_ws(ve);
		if (*p == ',') {
			p = mm_json_skip_ws(p + 1);
			continue;
		}
		if (*p == '}')
			return *mm_json_skip_ws(p + 1) ? -1 : 0;
		return -1;
	}
}

int mm_json_str(const struct mm_json_span *s, char *out, size_t outlen)
{
	if (!s->set || !s->str || s->n >= outlen || memchr(s->p, '\\', s->n) != NULL)
		return -1;
	memcpy(out, s->p, s->n);
	out[s->n] = '\0';
	return 0;
}

int mm_json_u64(const struct mm_json_span *s, uint64_t *out)
{
	char buf[24], *end;

	if (!s->set || s->str || s->n == 0 || s->n >= sizeof(buf) || s->p[0] < '0' || s->p[0] > '9')
		return -1;
	memcpy(buf, s->p, s->n);
	buf[s->n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 10);
	return *end || errno ? -1 : 0;
}
