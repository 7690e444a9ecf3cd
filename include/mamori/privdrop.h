/*
 * privdrop.h - giving up root once the privileged work is done (both
 * daemons, docs/operations.md).
 *
 * A daemon binds its sockets and NFLOG groups while privileged, then calls
 * mm_privdrop before its event loop runs.  As root with [daemon] user set,
 * it becomes that user: supplementary groups cleared (setgroups), then
 * setresgid and setresuid to the user's (or [daemon] group's) ids, real,
 * effective and saved alike, so root cannot be taken back; it is checked
 * that it cannot.  As root without a user the loop refuses to run, unless
 * [daemon] allow_root or the daemon's --allow-root says so (tests, CI,
 * containers that are root anyway).  Not root: nothing to give up.
 */
#ifndef MAMORI_PRIVDROP_H
#define MAMORI_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct mm_privdrop {
	char user[64], group[64]; /* as configured ("" = none) */
	int allow_root;           /* stay root when no user is set */
};

/* What mm_privdrop did: dropped (uid/gid now), stayed root (allowed), or
 * nothing (not root to begin with). */
enum { MM_PRIV_DROPPED = 1, MM_PRIV_ROOT_ALLOWED = 2, MM_PRIV_UNPRIVILEGED = 3 };

/* Drop as described above.  Returns one of the MM_PRIV_* results, or -1
 * with err filled (unknown user or group, a refused call, still able to
 * regain root, or root without a user and without allow_root): the daemon
 * must not go on.  The user and group are looked up here, so /etc/passwd
 * must be readable at this point. */
int mm_privdrop(const struct mm_privdrop *pd, char *err, size_t errlen);

/* A config check (config.c): NULL when `v` is empty or a portable user or
 * group name (letters, digits, '.', '_', '-', not starting with '-', at
 * most 32 characters), else why not. */
const char *mm_privdrop_check_name(const char *v);

#endif
