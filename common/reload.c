/*
 * reload.c - parse, validate, keep what cannot change (reload.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mamori/log.h"
#include "mamori/reload.h"

int mm_reload_load(const char *path, struct mm_config *next)
{
	char *errs = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&errs, &len);
	int n = mm_config_load(next, path, f);

	if (f != NULL)
		fclose(f);
	if (n != 0) {
		/* One log line per error, as -t prints them. */
		for (char *line = errs, *nl; line != NULL && *line != '\0'; line = nl) {
			nl = strchr(line, '\n');
			if (nl != NULL)
				*nl++ = '\0';
			mm_warnx("reload: %s", line);
		}
		mm_warnx("reload: %s: %d error%s; keeping the running configuration", path, n, n == 1 ? "" : "s");
		mm_config_free(next);
	}
	free(errs);
	return n != 0 ? -1 : 0;
}

unsigned mm_reload_keep(struct mm_config *next, const struct mm_config *cur, const struct mm_config_field *fixed,
			size_t n)
{
	unsigned kept = 0;

	for (size_t i = 0; i < n; i++) {
		char *dst = (char *)next + fixed[i].off;
		const char *src = (const char *)cur + fixed[i].off;

		if (memcmp(dst, src, fixed[i].size) == 0)
			continue;
		mm_warnx("reload: %s changed: it takes effect at the next restart (running on with the old value)",
			 fixed[i].name);
		memcpy(dst, src, fixed[i].size);
		kept++;
	}
	return kept;
}

void mm_reload_done(struct mm_reload_stats *st, const char *path, int ok)
{
	st->last_failed = !ok;
	if (!ok) {
		st->failed++;
		return;
	}
	st->ok++;
	st->last_ok_s = (uint64_t)time(NULL);
	mm_info("reload: %s applied", path);
}
