/*
 * reload.h - SIGHUP in both daemons (docs/operations.md): the file is
 * parsed again into a new struct, validated, and only then handed to the
 * daemon to swap in; a file with errors is logged (every error, as
 * file:line: message) and the running configuration stays, untouched.
 *
 * Some keys size memory or bind what only root may bind; a running daemon
 * keeps those as they are (logged) until it is restarted.  Each daemon
 * lists its own with MM_CONFIG_FIELD.
 */
#ifndef MAMORI_RELOAD_H
#define MAMORI_RELOAD_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"

struct mm_reload_stats {
	uint64_t ok;            /* reloads applied */
	uint64_t failed;        /* refused: errors in the file, or it could not be applied */
	uint64_t last_ok_s;     /* Unix time of the last applied one (0 = none) */
	int last_failed;        /* the last attempt failed */
};

/* Load `path` into *next (which it initialises).  0, or -1 with every
 * error logged as a warning and *next freed. */
int mm_reload_load(const char *path, struct mm_config *next);

struct mm_config_field {
	const char *name;       /* "[window] step", for the log */
	size_t off, size;
};
#define MM_CONFIG_FIELD(name, field) \
	{ name, offsetof(struct mm_config, field), sizeof(((struct mm_config *)0)->field) }

/* Each field of fixed[] that differs between next and cur is logged and
 * set back to cur's value in next.  Returns how many differed. */
unsigned mm_reload_keep(struct mm_config *next, const struct mm_config *cur, const struct mm_config_field *fixed,
			size_t n);

/* Count an attempt's outcome (and log the applied one). */
void mm_reload_done(struct mm_reload_stats *st, const char *path, int ok);

#endif
