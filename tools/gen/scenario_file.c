/*
 * scenario_file.c - the --scenario file (docs/scenarios.md): one setting
 * per line, "KEY VALUE", # starts a comment, blank lines ignored.
 *
 *   seed 7                       format ipfix
 *   duration 7200                step-rate 800
 *   hosts 3000                   prefix 10.0.0.0/16   (repeatable)
 *   sampling 1000                start 1700000000
 *   cycle day=0.6,weekend=0.7
 *   onoff on=0.5,period=900
 *   attack flood:victim=10.0.1.10,x=5,start=600,end=900    (repeatable)
 *   benign flash_crowd:host=10.0.2.3,x=8,start=1200,end=1500  (repeatable)
 *
 * This file only splits and checks the keys; main.c gives each value to
 * the same code as the matching command-line option and prefixes its
 * errors with FILE:LINE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define SFILE_MAX_LINES 4096
#define SFILE_LINE_MAX 512

static const struct {
	const char *key;
	int repeat; /* may appear more than once */
} keys[] = {
	{ "seed", 0 },	   { "format", 0 }, { "duration", 0 }, { "step-rate", 0 }, { "hosts", 0 },	{ "prefix", 1 },
	{ "sampling", 0 }, { "start", 0 },  { "cycle", 0 },    { "attack", 1 },	   { "benign", 1 },	{ "onoff", 0 },
};

static int key_index(const char *k)
{
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].key, k) == 0)
			return (int)i;
	return -1;
}

void gen_sfile_free(struct gen_sfile *sf)
{
	free(sf->e);
	sf->e = NULL;
	sf->n = 0;
}

int gen_sfile_load(const char *path, struct gen_sfile *sf, char *err, size_t errlen)
{
	char line[SFILE_LINE_MAX + 2];
	unsigned lineno = 0, cap = 0;
	FILE *fp = fopen(path, "r");

	sf->e = NULL;
	sf->n = 0;
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		size_t len = strlen(line);
		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%u: line longer than %d characters", path, lineno, SFILE_LINE_MAX);
			goto fail;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save, *k = strtok_r(line, " \t\r\n", &save);
		if (!k)
			continue;
		char *v = strtok_r(NULL, " \t\r\n", &save);
		char *extra = v ? strtok_r(NULL, " \t\r\n", &save) : NULL;
		int ki = key_index(k);
		if (ki < 0) {
			snprintf(err, errlen, "%s:%u: unknown key '%.32s'", path, lineno, k);
			goto fail;
		}
		if (!v || extra) {
			snprintf(err, errlen, "%s:%u: %s takes one value (no spaces inside it)", path, lineno, k);
			goto fail;
		}
		if (strlen(v) >= sizeof(sf->e[0].value)) {
			snprintf(err, errlen, "%s:%u: %s: value too long", path, lineno, k);
			goto fail;
		}
		if (!keys[ki].repeat)
			for (unsigned i = 0; i < sf->n; i++)
				if (strcmp(sf->e[i].key, k) == 0) {
					snprintf(err, errlen, "%s:%u: %s repeated (first on line %u)", path, lineno, k,
						 sf->e[i].line);
					goto fail;
				}
		if (sf->n == SFILE_MAX_LINES) {
			snprintf(err, errlen, "%s:%u: more than %d settings", path, lineno, SFILE_MAX_LINES);
			goto fail;
		}
		if (sf->n == cap) {
			unsigned nc = cap ? cap * 2 : 32;
			struct gen_sfile_entry *ne = realloc(sf->e, nc * sizeof(*ne));
			if (!ne) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			sf->e = ne;
			cap = nc;
		}
		struct gen_sfile_entry *e = &sf->e[sf->n++];
		snprintf(e->key, sizeof(e->key), "%s", k);
		snprintf(e->value, sizeof(e->value), "%s", v);
		e->line = lineno;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	return 0;
fail:
	fclose(fp);
	gen_sfile_free(sf);
	return -1;
}
