/*
 * config_override.c - a configuration text with some keys set to other
 * values (mm_config_override, config.h): what `mamori eval --sweep` runs
 * the detector with.  Text in, text out: comments, order and every other
 * line stay as written, so the parser reports errors against lines the
 * operator recognises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/config.h"

/* Append n bytes to the growing buffer; -1 on no memory. */
static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap * 2 + n + 256;
		char *g = realloc(*buf, c);
		if (g == NULL)
			return -1;
		*buf = g;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int put_set(char **buf, size_t *len, size_t *cap, const struct mm_config_set *s)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s = %s\n", s->key, s->value);

	return n < 0 || (size_t)n >= sizeof(line) ? -1 : put(buf, len, cap, line, (size_t)n);
}

char *mm_config_override(const char *text, const struct mm_config_set *sets, unsigned n)
{
	char *out = NULL, cur[64] = "";
	size_t len = 0, cap = 0;
	const char *p = text;
	unsigned char *seen = calloc(n ? n : 1, 1);
	int in_section = 0;

	if (seen == NULL || put(&out, &len, &cap, "", 0) < 0)
		goto fail;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t ln = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p;
		int replaced = 0;

		while (s < p + ln && (*s == ' ' || *s == '\t'))
			s++;
		/* a section ends at the next header or the end of the text:
		 * the keys it should have and did not get added there */
		if ((*p == '\0' || (s < p + ln && *s == '[')) && in_section) {
			for (unsigned i = 0; i < n; i++) {
				if (strcmp(cur, sets[i].section) == 0 && !seen[i] && put_set(&out, &len, &cap, &sets[i]) < 0)
					goto fail;
				seen[i] = 0;
			}
		}
		if (*p == '\0')
			break;
		if (s < p + ln && *s == '[') {
			size_t w = 0;
			for (s++; s < p + ln && *s != ']' && *s != ' ' && *s != '\t' && w + 1 < sizeof(cur); s++)
				cur[w++] = *s;
			cur[w] = '\0';
			in_section = 1;
		} else if (in_section) {
			for (unsigned i = 0; i < n; i++) {
				size_t kl = strlen(sets[i].key);
				const char *e = s + kl;

				if (strcmp(cur, sets[i].section) != 0 || (size_t)(p + ln - s) < kl ||
				    strncmp(s, sets[i].key, kl) != 0)
					continue;
				while (e < p + ln && (*e == ' ' || *e == '\t'))
					e++;
				if (e < p + ln && *e == '=') {
					if (!replaced && put_set(&out, &len, &cap, &sets[i]) < 0)
						goto fail;
					seen[i] = replaced = 1;
				}
			}
		}
		if (!replaced && (put(&out, &len, &cap, p, ln) < 0 || put(&out, &len, &cap, "\n", 1) < 0))
			goto fail;
		if (nl == NULL)
			p += ln;
		else
			p = nl + 1;
	}
	free(seen);
	return out;
fail:
	free(seen);
	free(out);
	return NULL;
}
