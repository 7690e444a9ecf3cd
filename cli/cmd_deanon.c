/*
 * cmd_deanon.c - `mamori deanon` and `mamori anon`: an operator who holds
 * the Crypto-PAn key maps pseudonyms back to real addresses (deanon), or
 * real addresses to the pseudonyms an alert would show (anon), for
 * addresses and prefixes (docs/privacy.md).
 *
 * Re-identification is meant to be a deliberate, accountable act, so every
 * use is logged before anything is printed: one line per address asked to
 * syslog (facility authpriv, which Debian keeps in /var/log/auth.log) and,
 * when [privacy] deanon_log names a file, to that file too.  The line says
 * who (user, uid, and the sudo user behind it), when, what was asked and
 * the --reason; not the answer.  If the file cannot be written nothing is
 * printed (syslog cannot report a failure; the file can).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "mamori/cryptopan.h"
#include "mamori/log.h"
#include "mamori/prefix.h"
#include "mamori/privacy.h"
#include "mamori/redis_schema.h"

void mm_cmd_deanon_usage(FILE *f)
{
	fprintf(f, "       mamori [-c FILE] deanon|anon [--key FILE] --reason TEXT ADDR|PREFIX...\n"
		   "  deanon           the real address (or prefix) behind each pseudonym\n"
		   "  anon             the pseudonym of each real address (or prefix)\n"
		   "    --key F        the Crypto-PAn key (default: the configuration's [privacy] key_file)\n"
		   "    --reason T     why (a case or ticket): logged with each use, required\n"
		   "                   every use is logged to syslog (authpriv) and [privacy] deanon_log\n");
}

/* "PREFIX" or "ADDR" mapped one way or the other, printed as the alerts
 * print it.  0, or -1 with why. */
static int map_one(struct mm_cryptopan *cp, int inverse, const char *in, char *out, size_t outlen, const char **why)
{
	if (strchr(in, '/') != NULL) {
		struct mm_prefix p, q;

		if (mm_prefix_parse(in, &p, why) < 0)
			return -1;
		if ((inverse ? mm_cryptopan_prefix_inverse(cp, &p, &q) : mm_cryptopan_prefix(cp, &p, &q)) < 0) {
			*why = "holds IPv4-mapped and other IPv6 addresses, which map apart";
			return -1;
		}
		mm_prefix_str(&q, out, outlen);
		return 0;
	}
	uint8_t a[16], b[16];
	if (mm_addr_parse(in, a) < 0) {
		*why = "not an address or prefix";
		return -1;
	}
	if ((inverse ? mm_cryptopan_addr_inverse(cp, a, b) : mm_cryptopan_addr(cp, a, b)) < 0) {
		*why = "AES failed";
		return -1;
	}
	mm_redis_addr_text(b, out, outlen);
	return 0;
}

/* One line per address asked, to syslog and the file (when named).
 * 0, or -1 when the file could not take them all. */
static int log_uses(const char *cmd, const char *file, const char *reason, char **addrs, int n)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char user[64], su[64], why[256], a[128], when[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = NULL;
	int rc = 0;

	mm_sanitize_text(pw ? pw->pw_name : "?", strlen(pw ? pw->pw_name : "?"), user, sizeof(user));
	mm_sanitize_text(sudo ? sudo : "-", strlen(sudo ? sudo : "-"), su, sizeof(su));
	mm_sanitize_text(reason, strlen(reason), why, sizeof(why));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (file != NULL && file[0] != '\0') {
		/* append only, created private (it names what was looked up) */
		int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0 || (f = fdopen(fd, "a")) == NULL) {
			fprintf(stderr, "mamori %s: deanon_log %s: %s: refusing to run unlogged\n", cmd, file,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	openlog("mamori", LOG_PID, LOG_AUTHPRIV);
	for (int i = 0; i < n; i++) {
		mm_sanitize_text(addrs[i], strlen(addrs[i]), a, sizeof(a));
		syslog(LOG_NOTICE, "%s by user %s (uid %u, sudo user %s): %s; reason: %s", cmd, user,
		       (unsigned)getuid(), su, a, why);
		if (f != NULL && fprintf(f, "%s %s user=%s uid=%u sudo_user=%s addr=%s reason=%s\n", when, cmd, user,
					 (unsigned)getuid(), su, a, why) < 0)
			rc = -1;
	}
	closelog();
	if (f != NULL && (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)))
		rc = -1;
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "mamori %s: deanon_log %s: write failed: refusing to answer\n", cmd, file);
	return rc;
}

int mm_cmd_deanon(const struct mm_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *key_file = NULL, *reason = NULL, *why = NULL;
	int inverse = strcmp(cmd, "deanon") == 0, ch, rc = 1;
	uint8_t key[MM_CRYPTOPAN_KEY_LEN];
	struct mm_cryptopan *cp;
	char err[512], out[64];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': key_file = optarg; break;
		case 'r': reason = optarg; break;
		default: mm_cmd_deanon_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mamori %s: no address given\n", cmd);
		mm_cmd_deanon_usage(stderr);
		return 2;
	}
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "mamori %s: --reason is required: say why (it is logged)\n", cmd);
		return 2;
	}
	if (key_file == NULL && cfg != NULL && cfg->privacy_key_file[0] != '\0')
		key_file = cfg->privacy_key_file;
	if (key_file == NULL) {
		fprintf(stderr, "mamori %s: no key: give --key FILE, or -c with [privacy] key_file\n", cmd);
		return 2;
	}
	/* every argument must read before anything is logged or answered */
	for (int i = optind; i < argc; i++) {
		struct mm_prefix p;
		uint8_t a[16];
		why = NULL;
		if (strchr(argv[i], '/') ? mm_prefix_parse(argv[i], &p, &why) < 0 : mm_addr_parse(argv[i], a) < 0) {
			fprintf(stderr, "mamori %s: %s: %s\n", cmd, argv[i], why ? why : "not an address or prefix");
			return 2;
		}
	}
	if (mm_privacy_key_read(key_file, key, err, sizeof(err)) < 0) {
		fprintf(stderr, "mamori %s: key %s: %s\n", cmd, key_file, err);
		return 1;
	}
	cp = mm_cryptopan_new(key);
	memset(key, 0, sizeof(key));
	if (cp == NULL) {
		fprintf(stderr, "mamori %s: cannot set up AES-128\n", cmd);
		return 1;
	}
	if (log_uses(cmd, cfg != NULL ? cfg->deanon_log : NULL, reason, argv + optind, argc - optind) < 0)
		goto out;
	rc = 0;
	for (int i = optind; i < argc; i++) {
		if (map_one(cp, inverse, argv[i], out, sizeof(out), &why) < 0) {
			fprintf(stderr, "mamori %s: %s: %s\n", cmd, argv[i], why);
			rc = 1;
			continue;
		}
		printf("%s %s\n", argv[i], out);
	}
	if (fflush(stdout) != 0)
		rc = 1;
out:
	mm_cryptopan_free(cp);
	return rc;
}
