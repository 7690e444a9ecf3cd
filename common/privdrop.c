/*
 * privdrop.c - give up root before the event loop (privdrop.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mamori/privdrop.h"

const char *mm_privdrop_check_name(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return NULL;
	if (n > 32)
		return "longer than 32 characters";
	if (v[0] == '-')
		return "starts with '-'";
	if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return "not a user or group name (letters, digits, '.', '_' and '-')";
	return NULL;
}

int mm_privdrop(const struct mm_privdrop *pd, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;

	if (geteuid() != 0 && getuid() != 0)
		return MM_PRIV_UNPRIVILEGED;
	if (pd->user[0] == '\0') {
		if (pd->allow_root)
			return MM_PRIV_ROOT_ALLOWED;
		snprintf(err, errlen,
			 "refusing to run as root: set [daemon] user (an unprivileged account to switch to "
			 "once the sockets are bound), or allow it with [daemon] allow_root = yes or --allow-root");
		return -1;
	}
	errno = 0;
	pw = getpwnam(pd->user);
	if (pw == NULL) {
		snprintf(err, errlen, "[daemon] user %s: %s", pd->user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (pd->group[0] != '\0') {
		struct group *gr;

		errno = 0;
		gr = getgrnam(pd->group);
		if (gr == NULL) {
			snprintf(err, errlen, "[daemon] group %s: %s", pd->group, errno ? strerror(errno) : "no such group");
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (uid == 0) {
		snprintf(err, errlen, "[daemon] user %s is root: name an unprivileged account", pd->user);
		return -1;
	}
	/* Groups first: once the uid is gone, so is the right to change them. */
	if (setgroups(0, NULL) < 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(err, errlen, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(err, errlen, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	/* Trust, but verify: every id changed, and root cannot be had back. */
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
		snprintf(err, errlen, "privileges not dropped as asked (uid %u gid %u)", (unsigned)uid, (unsigned)gid);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "root could be regained after dropping to %s", pd->user);
		return -1;
	}
	return MM_PRIV_DROPPED;
}
