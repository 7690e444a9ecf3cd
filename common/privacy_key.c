/*
 * privacy_key.c - the Crypto-PAn key file and a daemon's privacy set-up
 * (privacy.h).  The I/O beside the pure privacy.c and cryptopan.c.
 *
 * Whoever reads the key can map every pseudonym back, so the file is
 * refused unless only its owner (the daemon's user, or root) can touch it:
 * the same rule ssh applies to private keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "mamori/privacy.h"

#define KEY_FILE_MAX 130 /* 64 hex digits and CR LF, and one to spare */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mm_privacy_key_read(const char *path, uint8_t key[MM_CRYPTOPAN_KEY_LEN], char *err, size_t errlen)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	struct stat st;
	size_t n = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* The checks are on the open file, not the name: no race with a swap. */
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "mode %04o lets group or others in (chmod 600 %s)", (unsigned)(st.st_mode & 07777),
			 path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "owned by uid %u, neither this user (%u) nor root", (unsigned)st.st_uid,
			 (unsigned)geteuid());
		goto out;
	}
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == MM_CRYPTOPAN_KEY_LEN) {
		memcpy(key, buf, MM_CRYPTOPAN_KEY_LEN);
		rc = 0;
		goto out;
	}
	/* 64 hex digits, then at most one line end */
	size_t hex = n;
	if (hex > 0 && buf[hex - 1] == '\n')
		hex--;
	if (hex > 0 && buf[hex - 1] == '\r')
		hex--;
	if (hex != 2 * MM_CRYPTOPAN_KEY_LEN) {
		snprintf(err, errlen, "%s%zu bytes: expected 32 raw bytes or 64 hex digits", n > KEY_FILE_MAX ? "over " : "",
			 n > KEY_FILE_MAX ? (size_t)KEY_FILE_MAX : n);
		goto out;
	}
	for (size_t i = 0; i < MM_CRYPTOPAN_KEY_LEN; i++) {
		int hi = hexval((char)buf[2 * i]), lo = hexval((char)buf[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "not a hex digit at byte %zu: expected 32 raw bytes or 64 hex digits",
				 2 * i + (hi < 0 ? 1 : 2));
			OPENSSL_cleanse(key, MM_CRYPTOPAN_KEY_LEN);
			goto out;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int mm_privacy_setup(struct mm_config *c, struct mm_cryptopan **cp, char *err, size_t errlen)
{
	uint8_t key[MM_CRYPTOPAN_KEY_LEN];
	char why[512];

	*cp = NULL;
	if (!c->pseudonymise)
		return 0;
	if (mm_privacy_key_read(c->privacy_key_file, key, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s:%d: key_file %s: %s", c->path, c->privacy_key_line, c->privacy_key_file, why);
		return -1;
	}
	*cp = mm_cryptopan_new(key);
	OPENSSL_cleanse(key, sizeof(key));
	if (*cp == NULL) {
		snprintf(err, errlen, "%s:%d: key_file %s: cannot set up AES-128 (libcrypto)", c->path,
			 c->privacy_key_line, c->privacy_key_file);
		return -1;
	}
	if (mm_privacy_map_groups(c, *cp, err, errlen) < 0) {
		mm_cryptopan_free(*cp);
		*cp = NULL;
		return -1;
	}
	return 0;
}
