/*
 * config.c - the configuration file (config.h, docs/config.md).
 *
 * Hand-written rather than libinih: inih stops at (and reports the line of)
 * the first error only and cannot put file:line on messages raised while a
 * value is being checked.  Here every error is reported as "file:line:
 * message" and parsing goes on, so one run of `-t` lists them all.
 *
 * Table-driven: every key is one row of a const table (section, key, type,
 * where it lands, bounds, default).  Adding a key is adding a row (and a
 * line in docs/config.md and config/mamori.conf).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mamori/config.h"
#include "mamori/log.h"

void mm_decode_limits_default(struct mm_decode_limits *l)
{
	l->max_exporters = MM_DEF_MAX_EXPORTERS;
	l->max_domains = MM_DEF_MAX_DOMAINS;
	l->max_templates = MM_DEF_MAX_TEMPLATES;
	l->max_template_fields = MM_DEF_MAX_TEMPLATE_FIELDS;
	l->max_samplers = MM_DEF_MAX_SAMPLERS;
	l->pending_max_sets = MM_DEF_PENDING_MAX_SETS;
	l->pending_max_bytes = MM_DEF_PENDING_MAX_BYTES;
	l->pending_timeout_ms = MM_DEF_PENDING_TIMEOUT_MS;
}

/* ---- the tables ---------------------------------------------------- */

enum ctype {
	CT_UINT,     /* decimal integer in [min, max]; stored by field size */
	CT_BOOL,     /* yes/no, true/false, on/off, 1/0 -> int */
	CT_STR,      /* printable text, length in [min, size-1] */
	CT_NAME,     /* [A-Za-z0-9._-], length in [min, size-1] (goes in keys) */
	CT_PATH,     /* "" or an absolute path */
	CT_SECRET,   /* like CT_STR, never printed */
	CT_LISTEN,   /* ADDR:PORT, [V6ADDR]:PORT or :PORT, repeatable */
	CT_PREFIX,   /* IPv4/IPv6 prefix, host bits clear */
	CT_LOGLEVEL, /* error|warn|info|debug -> int */
};

enum {
	F_REPEAT = 1,   /* may appear more than once in a section */
	F_REQUIRED = 2, /* a section without it is an error */
	F_DEFCODE = 4,  /* default set in code (hostname, decode.h, listen) */
	F_INT = 8,      /* CT_UINT stored in an int */
};

struct keydef {
	const char *section;
	const char *key;
	enum ctype type;
	size_t off, size; /* where in struct mm_config / mm_exporter_cfg */
	uint64_t min, max; /* numbers: bounds; strings: min length */
	uint64_t def;      /* numeric default */
	const char *defstr; /* string default */
	unsigned flags;
};

#define C_(f) offsetof(struct mm_config, f), sizeof(((struct mm_config *)0)->f)
#define E_(f) offsetof(struct mm_exporter_cfg, f), sizeof(((struct mm_exporter_cfg *)0)->f)

/* Singleton sections, grouped by section in printing order. */
static const struct keydef cfg_keys[] = {
	{ "collector", "id", CT_NAME, C_(collector_id), 1, 0, 0, NULL, F_DEFCODE },
	{ "collector", "listen", CT_LISTEN, C_(listen), 0, 0, 0, NULL, F_REPEAT | F_DEFCODE },
	{ "collector", "rcvbuf", CT_UINT, C_(rcvbuf), 4096, 1u << 30, 33554432, NULL, 0 },
	{ "collector", "batch", CT_UINT, C_(batch), 1, 1024, 64, NULL, 0 },
	{ "collector", "default_sampling_rate", CT_UINT, C_(default_sampling_rate), 1, 1000000, 1, NULL, 0 },
	{ "collector", "allow_unlisted_exporters", CT_BOOL, C_(allow_unlisted_exporters), 0, 1, 1, NULL, 0 },

	{ "limits", "max_exporters", CT_UINT, C_(limits.max_exporters), 1, 1u << 20, 0, NULL, F_DEFCODE },
	{ "limits", "max_domains", CT_UINT, C_(limits.max_domains), 1, 4096, 0, NULL, F_DEFCODE },
	{ "limits", "max_templates", CT_UINT, C_(limits.max_templates), 1, 65536, 0, NULL, F_DEFCODE },
	/* 16384: a 65535-byte IPFIX message cannot declare more fields. */
	{ "limits", "max_template_fields", CT_UINT, C_(limits.max_template_fields), 1, 16384, 0, NULL, F_DEFCODE },
	{ "limits", "max_samplers", CT_UINT, C_(limits.max_samplers), 1, 65536, 0, NULL, F_DEFCODE },
	{ "limits", "pending_max_sets", CT_UINT, C_(limits.pending_max_sets), 1, 4096, 0, NULL, F_DEFCODE },
	{ "limits", "pending_max_bytes", CT_UINT, C_(limits.pending_max_bytes), 1024, 1u << 26, 0, NULL, F_DEFCODE },
	{ "limits", "pending_timeout_ms", CT_UINT, C_(limits.pending_timeout_ms), 100, 600000, 0, NULL, F_DEFCODE },

	{ "redis", "host", CT_STR, C_(redis_host), 1, 0, 0, "127.0.0.1", 0 },
	{ "redis", "port", CT_UINT, C_(redis_port), 1, 65535, 6379, NULL, 0 },
	{ "redis", "socket", CT_PATH, C_(redis_socket), 0, 0, 0, "", 0 },
	{ "redis", "db", CT_UINT, C_(redis_db), 0, 65535, 0, NULL, F_INT },
	{ "redis", "user", CT_STR, C_(redis_user), 0, 0, 0, "", 0 },
	{ "redis", "password", CT_SECRET, C_(redis_password), 0, 0, 0, "", 0 },

	{ "window", "step", CT_UINT, C_(step_s), 1, 3600, 10, NULL, 0 },
	{ "window", "steps", CT_UINT, C_(window_steps), 1, 1440, 6, NULL, 0 },
	{ "window", "retention", CT_UINT, C_(retention_s), 60, 31536000, 86400, NULL, 0 },

	{ "log", "level", CT_LOGLEVEL, C_(log_level), 0, 0, MM_LOG_INFO, NULL, F_INT },
};
#define NCFG_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* [exporter NAME]: offsets into struct mm_exporter_cfg. */
static const struct keydef exp_keys[] = {
	{ "exporter", "address", CT_PREFIX, E_(prefix), 0, 0, 0, NULL, F_REQUIRED },
	{ "exporter", "sampling_rate", CT_UINT, E_(sampling_rate), 0, 1000000, 0, NULL, 0 },
	{ "exporter", "default_rate", CT_UINT, E_(default_rate), 0, 1000000, 0, NULL, 0 },
	{ "exporter", "site", CT_NAME, E_(site), 0, 0, 0, "", 0 },
};
#define NEXP_KEYS (sizeof(exp_keys) / sizeof(exp_keys[0]))

struct sectiondef {
	const char *name;
	int named; /* [name NAME], once per NAME; else once per file */
	const struct keydef *keys;
	size_t nkeys;
};

/* In printing order. */
static const struct sectiondef sections[] = {
	{ "collector", 0, cfg_keys, NCFG_KEYS },
	{ "limits", 0, cfg_keys, NCFG_KEYS },
	{ "exporter", 1, exp_keys, NEXP_KEYS },
	{ "redis", 0, cfg_keys, NCFG_KEYS },
	{ "window", 0, cfg_keys, NCFG_KEYS },
	{ "log", 0, cfg_keys, NCFG_KEYS },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))
#define SEC_NONE (-1) /* before the first header */
#define SEC_SKIP (-2) /* inside a rejected header: keys ignored silently */

static const char *const default_listen[] = { "0.0.0.0:2055", "0.0.0.0:4739" };

/* ---- parser state -------------------------------------------------- */

struct exp_meta {
	int key_line[NEXP_KEYS]; /* where each key was set, 0 = not set */
	int addr_ok;
};

struct parser {
	struct mm_config *c;
	const char *name;
	FILE *errs;
	int nerr;
	int sec;                       /* index into sections[] or SEC_* */
	int sec_line[NSECTIONS];       /* singleton sections: header line */
	int key_line[NCFG_KEYS];       /* singleton keys: where set */
	int listen_line[MM_MAX_LISTEN];
	struct exp_meta *emeta;        /* parallel to c->exporters */
	unsigned ecap;
	unsigned *nhash;               /* exporter name -> index + 1 (0 = free) */
	unsigned nhcap;                /* 2 * ecap: never more than half full */
};

static void perr(struct parser *ps, int line, const char *fmt, ...) MM_PRINTF(3, 4);

static void perr(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;

	ps->nerr++;
	if (ps->errs == NULL || ps->nerr > MM_CONFIG_MAX_ERRORS)
		return;
	fprintf(ps->errs, "%s:%d: ", ps->name, line);
	va_start(ap, fmt);
	vfprintf(ps->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ps->errs);
}

/* Operator text echoed in messages: bounded and printable. */
struct qbuf {
	char s[72];
};
static const char *q(struct qbuf *b, const char *v)
{
	return mm_sanitize_text(v, strlen(v), b->s, sizeof(b->s));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* ---- value parsers ------------------------------------------------- */

/* Decimal digits only: no sign, no spaces, no 0x, no suffix.  0 ok,
 * -1 not a number, -2 too large for 64 bits. */
static int parse_u64(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		unsigned d;

		if (*v < '0' || *v > '9')
			return -1;
		d = (unsigned)(*v - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -2;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Names end up in Redis keys, where ':' separates fields. */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static int name_ok(const char *v)
{
	return strspn(v, NAME_CHARS) == strlen(v);
}

/*
 * ADDR:PORT (numeric IPv4), [V6ADDR]:PORT, or :PORT (= 0.0.0.0:PORT, every
 * IPv4 address).  Host names are not looked up: a config check must give
 * the same answer on every machine.  Port 0 lets the kernel choose (tests).
 */
int mm_listen_parse(const char *v, struct mm_listen *l, const char **why)
{
	char host[64];
	const char *port;
	size_t hlen, vlen = strlen(v);
	uint64_t pn;
	int af;

	memset(l, 0, sizeof(*l));
	if (vlen >= sizeof(l->text)) {
		*why = "too long";
		return -1;
	}
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (rb == NULL) {
			*why = "missing ']'";
			return -1;
		}
		if (rb[1] != ':') {
			*why = "expected [V6ADDR]:PORT";
			return -1;
		}
		hlen = (size_t)(rb - v - 1);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		memcpy(host, v + 1, hlen);
		host[hlen] = '\0';
		port = rb + 2;
		af = 6;
	} else {
		const char *colon = strrchr(v, ':');

		if (colon == NULL) {
			*why = "missing port (use ADDR:PORT, [V6ADDR]:PORT or :PORT)";
			return -1;
		}
		if (memchr(v, ':', (size_t)(colon - v)) != NULL) {
			*why = "IPv6 addresses need brackets: [V6ADDR]:PORT";
			return -1;
		}
		hlen = (size_t)(colon - v);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		if (hlen == 0) {
			strcpy(host, "0.0.0.0");
		} else {
			memcpy(host, v, hlen);
			host[hlen] = '\0';
		}
		port = colon + 1;
		af = 4;
	}
	if (parse_u64(port, &pn) != 0 || pn > 65535) {
		*why = "bad port (0..65535)";
		return -1;
	}
	if (af == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "not a numeric IPv4 address (host names are not looked up)";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		l->sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		l->sslen = sizeof(*sin6);
	}
	memcpy(l->text, v, vlen + 1);
	return 0;
}

/* Same socket address (port 0 never collides: each gets its own port). */
static int listen_same(const struct mm_listen *a, const struct mm_listen *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
		return x->sin_port != 0 && x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
	return x->sin6_port != 0 && x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* ---- storing values ------------------------------------------------- */

/* A table row whose field cannot hold what the row allows is a bug in this
 * file: checked for every row by mm_config_defaults, which every load
 * runs, so the tests catch it before anything is stored. */
static void row_check(const struct keydef *k)
{
	int ok;

	switch (k->type) {
	case CT_UINT:
		if (k->flags & F_INT)
			ok = k->size == sizeof(int) && k->max <= INT_MAX;
		else if (k->size == sizeof(uint16_t))
			ok = k->max <= UINT16_MAX;
		else
			ok = k->size == sizeof(uint32_t) && k->max <= UINT32_MAX;
		ok = ok && k->min <= k->max &&
		     ((k->flags & F_DEFCODE) || (k->min <= k->def && k->def <= k->max));
		break;
	case CT_BOOL:
	case CT_LOGLEVEL:
		ok = k->size == sizeof(int);
		break;
	case CT_PREFIX:
		ok = k->size == sizeof(struct mm_prefix);
		break;
	case CT_LISTEN:
		ok = k->size == sizeof(((struct mm_config *)0)->listen);
		break;
	default: /* strings: a char array with room for the default */
		ok = k->size > 1 && k->min < k->size &&
		     (k->defstr == NULL || strlen(k->defstr) < k->size);
		break;
	}
	if (!ok)
		abort();
}

static void store_uint(const struct keydef *k, void *base, uint64_t v)
{
	char *p = (char *)base + k->off;

	if (k->flags & F_INT) {
		int i = (int)v;
		memcpy(p, &i, sizeof(i));
	} else if (k->size == sizeof(uint16_t)) {
		uint16_t u = (uint16_t)v;
		memcpy(p, &u, sizeof(u));
	} else if (k->size == sizeof(uint32_t)) {
		uint32_t u = (uint32_t)v;
		memcpy(p, &u, sizeof(u));
	} else {
		abort(); /* a table row with a field it cannot hold */
	}
}

static uint64_t load_uint(const struct keydef *k, const void *base)
{
	const char *p = (const char *)base + k->off;

	if (k->flags & F_INT) {
		int i;
		memcpy(&i, p, sizeof(i));
		return (uint64_t)i;
	}
	if (k->size == sizeof(uint16_t)) {
		uint16_t u;
		memcpy(&u, p, sizeof(u));
		return u;
	}
	if (k->size == sizeof(uint32_t)) {
		uint32_t u;
		memcpy(&u, p, sizeof(u));
		return u;
	}
	abort();
}

/* Parse `v` for key `k` into base (struct mm_config or mm_exporter_cfg).
 * Errors are reported; returns 0 or -1. */
static int set_value(struct parser *ps, int line, const struct keydef *k, void *base,
		     const char *v, struct exp_meta *em)
{
	struct qbuf qb;
	char *dst = (char *)base + k->off;
	const char *why = NULL;
	uint64_t n;
	size_t len;
	int r;

	switch (k->type) {
	case CT_UINT:
		if (*v == '\0') {
			perr(ps, line, "%s: missing value", k->key);
			return -1;
		}
		r = parse_u64(v, &n);
		if (r == -1) {
			perr(ps, line, "%s: bad number '%s' (expected a decimal integer)", k->key, q(&qb, v));
			return -1;
		}
		if (r == -2 || n < k->min || n > k->max) {
			perr(ps, line, "%s: %s out of range (%llu..%llu)", k->key, q(&qb, v),
			     (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		store_uint(k, base, n);
		return 0;
	case CT_BOOL:
		r = parse_bool(v);
		if (r < 0) {
			perr(ps, line, "%s: bad boolean '%s' (use yes or no)", k->key, q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_LOGLEVEL:
		r = mm_log_level_parse(v);
		if (r < 0) {
			perr(ps, line, "%s: unknown log level '%s' (use error, warn, info or debug)", k->key,
			     q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_STR:
	case CT_NAME:
	case CT_PATH:
	case CT_SECRET:
		len = strlen(v);
		if (len < k->min) {
			perr(ps, line, "%s: must not be empty", k->key);
			return -1;
		}
		if (len > k->size - 1) {
			perr(ps, line, "%s: too long (max %zu characters)", k->key, k->size - 1);
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				perr(ps, line, "%s: control character in value", k->key);
				return -1;
			}
		}
		if (k->type == CT_NAME && !name_ok(v)) {
			perr(ps, line, "%s: bad name '%s' (letters, digits, '.', '_' and '-' only)", k->key,
			     q(&qb, v));
			return -1;
		}
		if (k->type == CT_PATH && len > 0 && v[0] != '/') {
			perr(ps, line, "%s: '%s' is not an absolute path", k->key, q(&qb, v));
			return -1;
		}
		memcpy(dst, v, len + 1);
		return 0;
	case CT_PREFIX: {
		struct mm_prefix p;

		if (mm_prefix_parse(v, &p, &why) < 0) {
			if (strcmp(why, "host bits set") == 0) {
				char sug[64];
				perr(ps, line, "%s: bad prefix '%s': host bits set (did you mean %s?)", k->key,
				     q(&qb, v), mm_prefix_str(&p, sug, sizeof(sug)));
			} else {
				perr(ps, line, "%s: bad prefix '%s': %s", k->key, q(&qb, v), why);
			}
			return -1;
		}
		memcpy(dst, &p, sizeof(p));
		if (em != NULL)
			em->addr_ok = 1;
		return 0;
	}
	case CT_LISTEN: {
		struct mm_config *c = ps->c;
		struct mm_listen l;

		if (mm_listen_parse(v, &l, &why) < 0) {
			perr(ps, line, "%s: bad address '%s': %s", k->key, q(&qb, v), why);
			return -1;
		}
		for (unsigned i = 0; i < c->nlisten; i++) {
			if (listen_same(&c->listen[i], &l)) {
				perr(ps, line, "%s: duplicate address '%s' (first at line %d)", k->key,
				     q(&qb, v), ps->listen_line[i]);
				return -1;
			}
		}
		if (c->nlisten >= MM_MAX_LISTEN) {
			perr(ps, line, "%s: too many addresses (max %d)", k->key, MM_MAX_LISTEN);
			return -1;
		}
		ps->listen_line[c->nlisten] = line;
		c->listen[c->nlisten++] = l;
		return 0;
	}
	}
	abort();
}

/* ---- defaults ------------------------------------------------------ */

static void apply_defaults(const struct keydef *keys, size_t nkeys, void *base)
{
	for (size_t i = 0; i < nkeys; i++) {
		const struct keydef *k = &keys[i];
		char *dst = (char *)base + k->off;
		int iv;

		if (k->flags & F_DEFCODE)
			continue;
		switch (k->type) {
		case CT_UINT:
			store_uint(k, base, k->def);
			break;
		case CT_BOOL:
		case CT_LOGLEVEL:
			iv = (int)k->def;
			memcpy(dst, &iv, sizeof(iv));
			break;
		case CT_STR:
		case CT_NAME:
		case CT_PATH:
		case CT_SECRET:
			snprintf(dst, k->size, "%s", k->defstr != NULL ? k->defstr : "");
			break;
		case CT_LISTEN:
		case CT_PREFIX:
			break;
		}
	}
}

static void default_listens(struct mm_config *c)
{
	const char *why;

	c->nlisten = 0;
	for (size_t i = 0; i < sizeof(default_listen) / sizeof(default_listen[0]); i++)
		if (mm_listen_parse(default_listen[i], &c->listen[c->nlisten], &why) == 0)
			c->nlisten++;
}

/* The host name, made into a valid id (it ends up in Redis keys). */
static void default_collector_id(char *id, size_t size)
{
	char host[256];
	size_t n;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (strchr(NAME_CHARS, *p) == NULL)
			*p = '_';
	if (host[0] == '\0')
		strcpy(host, "mamori");
	/* A host name longer than an id is cut, on purpose. */
	n = strlen(host);
	if (n > size - 1)
		n = size - 1;
	memcpy(id, host, n);
	id[n] = '\0';
}

void mm_config_defaults(struct mm_config *c)
{
	for (size_t i = 0; i < NCFG_KEYS; i++)
		row_check(&cfg_keys[i]);
	for (size_t i = 0; i < NEXP_KEYS; i++)
		row_check(&exp_keys[i]);
	memset(c, 0, sizeof(*c));
	apply_defaults(cfg_keys, NCFG_KEYS, c);
	default_collector_id(c->collector_id, sizeof(c->collector_id));
	default_listens(c);
	mm_decode_limits_default(&c->limits);
}

void mm_config_free(struct mm_config *c)
{
	free(c->exporters);
	c->exporters = NULL;
	c->nexporters = 0;
	mm_lpm_free(c->exporter_lpm);
	c->exporter_lpm = NULL;
}

/* ---- the parser ---------------------------------------------------- */

static const struct keydef *find_key(int sec, const char *key, size_t *idx)
{
	const struct sectiondef *sd = &sections[sec];

	for (size_t i = 0; i < sd->nkeys; i++) {
		if (strcmp(sd->keys[i].section, sd->name) == 0 && strcmp(sd->keys[i].key, key) == 0) {
			*idx = i;
			return &sd->keys[i];
		}
	}
	return NULL;
}

/* End of a section: required keys present? */
static void end_section(struct parser *ps)
{
	const struct sectiondef *sd;
	struct mm_exporter_cfg *e;
	struct exp_meta *em;

	if (ps->sec < 0 || !sections[ps->sec].named)
		return;
	sd = &sections[ps->sec];
	e = &ps->c->exporters[ps->c->nexporters - 1];
	em = &ps->emeta[ps->c->nexporters - 1];
	for (size_t i = 0; i < sd->nkeys; i++)
		if ((sd->keys[i].flags & F_REQUIRED) && em->key_line[i] == 0)
			perr(ps, e->line, "[%s %s]: missing required key '%s'", sd->name, e->name,
			     sd->keys[i].key);
}

/* Exporter names are looked up in a hash table (open addressing, FNV-1a)
 * so that duplicate detection stays linear in the number of sections. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int name_find(const struct parser *ps, const char *name)
{
	if (ps->nhcap == 0)
		return -1;
	for (uint32_t h = name_hash(name) & (ps->nhcap - 1);; h = (h + 1) & (ps->nhcap - 1)) {
		unsigned v = ps->nhash[h];

		if (v == 0)
			return -1;
		if (strcmp(ps->c->exporters[v - 1].name, name) == 0)
			return (int)(v - 1);
	}
}

static void name_put(struct parser *ps, unsigned idx)
{
	uint32_t h = name_hash(ps->c->exporters[idx].name) & (ps->nhcap - 1);

	while (ps->nhash[h] != 0)
		h = (h + 1) & (ps->nhcap - 1);
	ps->nhash[h] = idx + 1;
}

static int add_exporter(struct parser *ps, const char *name, int line)
{
	struct mm_config *c = ps->c;
	struct mm_exporter_cfg *e;

	if (c->nexporters == ps->ecap) {
		unsigned ncap = ps->ecap ? ps->ecap * 2 : 8; /* a power of two */
		struct mm_exporter_cfg *ne = realloc(c->exporters, ncap * sizeof(*ne));
		struct exp_meta *nm;
		unsigned *nh;

		if (ne == NULL)
			return -1;
		c->exporters = ne;
		nm = realloc(ps->emeta, ncap * sizeof(*nm));
		if (nm == NULL)
			return -1;
		ps->emeta = nm;
		nh = calloc(2 * (size_t)ncap, sizeof(*nh));
		if (nh == NULL)
			return -1;
		free(ps->nhash);
		ps->nhash = nh;
		ps->nhcap = 2 * ncap;
		ps->ecap = ncap;
		for (unsigned i = 0; i < c->nexporters; i++)
			name_put(ps, i);
	}
	e = &c->exporters[c->nexporters];
	memset(e, 0, sizeof(*e));
	memset(&ps->emeta[c->nexporters], 0, sizeof(ps->emeta[0]));
	apply_defaults(exp_keys, NEXP_KEYS, e);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->line = line;
	name_put(ps, c->nexporters);
	c->nexporters++;
	return 0;
}

static void parse_header(struct parser *ps, char *s, int line)
{
	struct qbuf qb;
	char *close = strchr(s, ']');
	char *type, *name;
	int sec = -1, dup;

	ps->sec = SEC_SKIP;
	if (close == NULL) {
		perr(ps, line, "bad section header: missing ']'");
		return;
	}
	if (close[1] != '\0') {
		perr(ps, line, "unexpected text after ']'");
		return;
	}
	*close = '\0';
	type = trim(s + 1);
	name = type + strcspn(type, " \t");
	if (*name != '\0') {
		*name++ = '\0';
		name = trim(name);
	}
	if (*type == '\0') {
		perr(ps, line, "empty section header");
		return;
	}
	if (name[strcspn(name, " \t")] != '\0') {
		perr(ps, line, "bad section header (expected [section] or [section NAME])");
		return;
	}
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strcmp(sections[i].name, type) == 0)
			sec = (int)i;
	if (sec < 0) {
		perr(ps, line, "unknown section [%s]", q(&qb, type));
		return;
	}
	if (!sections[sec].named) {
		if (*name != '\0') {
			perr(ps, line, "section [%s] takes no name", type);
			return;
		}
		if (ps->sec_line[sec] != 0) {
			perr(ps, line, "duplicate section [%s] (first at line %d)", type, ps->sec_line[sec]);
			return;
		}
		ps->sec_line[sec] = line;
		ps->sec = sec;
		return;
	}
	if (*name == '\0') {
		perr(ps, line, "section [%s] needs a name: [%s NAME]", type, type);
		return;
	}
	if (strlen(name) >= MM_NAME_MAX || !name_ok(name)) {
		perr(ps, line, "bad %s name '%s' (1..%d letters, digits, '.', '_' or '-')", type,
		     q(&qb, name), MM_NAME_MAX - 1);
		return;
	}
	dup = name_find(ps, name);
	if (dup >= 0) {
		perr(ps, line, "duplicate section [%s %s] (first at line %d)", type, name,
		     ps->c->exporters[dup].line);
		return;
	}
	if (add_exporter(ps, name, line) < 0) {
		perr(ps, line, "out of memory");
		return;
	}
	ps->sec = sec;
}

/* "[collector]" or "[exporter edge1]" for messages. */
static const char *sec_label(const struct parser *ps, char *buf, size_t len)
{
	const struct sectiondef *sd = &sections[ps->sec];

	if (sd->named)
		snprintf(buf, len, "[%s %s]", sd->name, ps->c->exporters[ps->c->nexporters - 1].name);
	else
		snprintf(buf, len, "[%s]", sd->name);
	return buf;
}

static void parse_keyline(struct parser *ps, char *s, int line)
{
	char lbl[MM_NAME_MAX + 16];
	struct qbuf qb;
	char *eq = strchr(s, '=');
	const struct sectiondef *sd;
	const struct keydef *k;
	struct exp_meta *em = NULL;
	char *key, *val;
	void *base;
	int *seen;
	size_t idx;

	if (eq == NULL) {
		perr(ps, line, "missing '=' (expected key = value)");
		return;
	}
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (*key == '\0') {
		perr(ps, line, "missing key before '='");
		return;
	}
	if (ps->sec == SEC_NONE) {
		perr(ps, line, "key '%s' outside any section", q(&qb, key));
		return;
	}
	if (ps->sec == SEC_SKIP)
		return;
	sd = &sections[ps->sec];
	k = find_key(ps->sec, key, &idx);
	if (k == NULL) {
		perr(ps, line, "unknown key '%s' in %s", q(&qb, key), sec_label(ps, lbl, sizeof(lbl)));
		return;
	}
	if (sd->named) {
		em = &ps->emeta[ps->c->nexporters - 1];
		seen = &em->key_line[idx];
		base = &ps->c->exporters[ps->c->nexporters - 1];
	} else {
		seen = &ps->key_line[idx];
		base = ps->c;
	}
	if (*seen != 0 && !(k->flags & F_REPEAT)) {
		perr(ps, line, "duplicate key '%s' in %s (first at line %d)", key,
		     sec_label(ps, lbl, sizeof(lbl)), *seen);
		return;
	}
	/* Recorded before the value is checked: a bad value is one error,
	 * not also a "missing required key". */
	*seen = line;
	set_value(ps, line, k, base, val, em);
}

static void parse_line(struct parser *ps, char *s, int line)
{
	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		end_section(ps);
		parse_header(ps, s, line);
	} else {
		parse_keyline(ps, s, line);
	}
}

static size_t key_index(const char *section, const char *key)
{
	for (size_t i = 0; i < NCFG_KEYS; i++)
		if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].key, key) == 0)
			return i;
	abort();
}

static size_t exp_key_index(const char *key)
{
	for (size_t i = 0; i < NEXP_KEYS; i++)
		if (strcmp(exp_keys[i].key, key) == 0)
			return i;
	abort();
}

/* ---- overlapping exporter prefixes ---------------------------------- */

struct pfx_ref {
	struct mm_prefix p;
	unsigned idx;
};

struct overlap {
	int line, other_line; /* reported at the later of the two lines */
	unsigned at, other;   /* exporter indices */
};

static int pfx_ref_cmp(const void *x, const void *y)
{
	const struct pfx_ref *a = x, *b = y;
	int r = memcmp(a->p.addr, b->p.addr, sizeof(a->p.addr));

	if (r != 0)
		return r;
	if (a->p.len != b->p.len)
		return a->p.len < b->p.len ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int overlap_cmp(const void *x, const void *y)
{
	const struct overlap *a = x, *b = y;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->other_line < b->other_line ? -1 : a->other_line > b->other_line;
}

/*
 * An address must map to one exporter section only: with nested prefixes
 * an override would depend on which one is longer, easy to get wrong
 * without noticing.  Prefixes are nested or disjoint, so sorting them by
 * (address, length) puts every prefix right after the chain of those that
 * contain it; a stack walk then finds each contained prefix's nearest
 * container in O(n log n) (a pairwise check took seconds on a 1 MiB file).
 * Each contained prefix is reported once, against that container.
 */
static void check_overlaps(struct parser *ps)
{
	struct mm_config *c = ps->c;
	size_t ka = exp_key_index("address"), n = 0, sp = 0, no = 0;
	struct pfx_ref *refs = malloc((c->nexporters + 1) * sizeof(*refs));
	size_t *stack = malloc((c->nexporters + 1) * sizeof(*stack));
	struct overlap *ov = malloc((c->nexporters + 1) * sizeof(*ov));

	if (refs == NULL || stack == NULL || ov == NULL) {
		perr(ps, 0, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < c->nexporters; i++) {
		if (ps->emeta[i].addr_ok) {
			refs[n].p = c->exporters[i].prefix;
			refs[n++].idx = i;
		}
	}
	qsort(refs, n, sizeof(*refs), pfx_ref_cmp);
	for (size_t r = 0; r < n; r++) {
		while (sp > 0 && !mm_prefix_contains(&refs[stack[sp - 1]].p, refs[r].p.addr))
			sp--;
		if (sp > 0) {
			unsigned x = refs[r].idx, y = refs[stack[sp - 1]].idx;
			int lx = ps->emeta[x].key_line[ka], ly = ps->emeta[y].key_line[ka];

			ov[no++] = lx > ly ? (struct overlap){ lx, ly, x, y } : (struct overlap){ ly, lx, y, x };
		}
		stack[sp++] = r;
	}
	qsort(ov, no, sizeof(*ov), overlap_cmp);
	for (size_t i = 0; i < no; i++) {
		const struct mm_exporter_cfg *a = &c->exporters[ov[i].at], *b = &c->exporters[ov[i].other];
		char pa[64], pb[64];

		perr(ps, ov[i].line, "[exporter %s] address %s overlaps [exporter %s] address %s at line %d",
		     a->name, mm_prefix_str(&a->prefix, pa, sizeof(pa)), b->name,
		     mm_prefix_str(&b->prefix, pb, sizeof(pb)), ov[i].other_line);
	}
out:
	free(refs);
	free(stack);
	free(ov);
}

/* Checks that involve more than one key. */
static void validate(struct parser *ps)
{
	struct mm_config *c = ps->c;
	uint64_t window = (uint64_t)c->step_s * c->window_steps;

	if (c->retention_s < window) {
		int line = ps->key_line[key_index("window", "retention")];
		int l1 = ps->key_line[key_index("window", "step")];
		int l2 = ps->key_line[key_index("window", "steps")];

		if (line == 0)
			line = l1 > l2 ? l1 : l2;
		perr(ps, line, "retention %u s is shorter than one window (step %u s x %u steps = %llu s)",
		     c->retention_s, c->step_s, c->window_steps, (unsigned long long)window);
	}

	check_overlaps(ps);
}

static int build_lpm(struct mm_config *c)
{
	if (c->nexporters == 0)
		return 0;
	c->exporter_lpm = mm_lpm_new();
	if (c->exporter_lpm == NULL)
		return -1;
	for (unsigned i = 0; i < c->nexporters; i++)
		if (mm_lpm_insert(c->exporter_lpm, &c->exporters[i].prefix, (int)i) < 0)
			return -1;
	return 0;
}

static int config_parse(struct mm_config *c, const char *name, const char *text, size_t len,
			FILE *errs)
{
	struct parser ps;
	char buf[MM_CONFIG_LINE_MAX + 1];
	size_t pos = 0;
	int line = 0;

	mm_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", name);
	c->nlisten = 0; /* the defaults apply only if the file names none */
	memset(&ps, 0, sizeof(ps));
	ps.c = c;
	ps.name = name;
	ps.errs = errs;
	ps.sec = SEC_NONE;

	while (pos < len && ps.nerr < MM_CONFIG_MAX_ERRORS) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - pos;

		line++;
		if (n > 0 && text[end - 1] == '\r')
			n--; /* CRLF files */
		if (n > MM_CONFIG_LINE_MAX - 1) {
			perr(&ps, line, "line too long (max %d characters)", MM_CONFIG_LINE_MAX - 1);
		} else if (memchr(text + pos, '\0', n) != NULL) {
			perr(&ps, line, "NUL byte in line");
		} else {
			memcpy(buf, text + pos, n);
			buf[n] = '\0';
			parse_line(&ps, buf, line);
		}
		pos = end + 1;
	}
	if (ps.nerr >= MM_CONFIG_MAX_ERRORS && pos < len) {
		if (errs != NULL)
			fprintf(errs, "%s:%d: too many errors, giving up\n", name, line);
	} else if (ps.nerr < MM_CONFIG_MAX_ERRORS) {
		end_section(&ps);
		validate(&ps);
	}
	if (c->nlisten == 0)
		default_listens(c);
	if (ps.nerr == 0 && build_lpm(c) < 0) {
		ps.nerr++;
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", name);
	}
	free(ps.emeta);
	free(ps.nhash);
	if (ps.nerr > 0) {
		mm_config_free(c);
		mm_config_defaults(c);
		snprintf(c->path, sizeof(c->path), "%s", name);
	}
	return ps.nerr;
}

int mm_config_load_string(struct mm_config *c, const char *name, const char *text, FILE *errs)
{
	return config_parse(c, name, text, strlen(text), errs);
}

int mm_config_load(struct mm_config *c, const char *path, FILE *errs)
{
	FILE *f;
	char *buf;
	size_t len = 0;
	int r, err;

	mm_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	f = fopen(path, "r");
	if (f == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	buf = malloc(MM_CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", path);
		return 1;
	}
	/* Read one byte past the limit to tell "exactly the limit" from
	 * "too large". */
	len = fread(buf, 1, MM_CONFIG_FILE_MAX + 1, f);
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err != 0 || len > MM_CONFIG_FILE_MAX) {
		if (errs != NULL) {
			if (err != 0)
				fprintf(errs, "%s: cannot read: %s\n", path, strerror(err));
			else
				fprintf(errs, "%s: file too large (max %u bytes)\n", path, MM_CONFIG_FILE_MAX);
		}
		free(buf);
		return 1;
	}
	r = config_parse(c, path, buf, len, errs);
	free(buf);
	return r;
}

/* ---- printing ------------------------------------------------------ */

static void print_key(const struct keydef *k, const void *base, FILE *out)
{
	const char *p = (const char *)base + k->off;
	char tmp[64];
	int iv;

	switch (k->type) {
	case CT_UINT:
		fprintf(out, "%s = %llu\n", k->key, (unsigned long long)load_uint(k, base));
		break;
	case CT_BOOL:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, iv ? "yes" : "no");
		break;
	case CT_LOGLEVEL:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, mm_log_level_name(iv));
		break;
	case CT_SECRET:
		/* Never printed: the output of -t -v ends up in tickets. */
		fprintf(out, "%s =%s\n", k->key, *p != '\0' ? " ********" : "");
		break;
	case CT_STR:
	case CT_NAME:
	case CT_PATH:
		/* "key =" for empty values: no trailing blank. */
		fprintf(out, "%s =%s%s\n", k->key, *p != '\0' ? " " : "", p);
		break;
	case CT_PREFIX:
		fprintf(out, "%s = %s\n", k->key,
			mm_prefix_str((const struct mm_prefix *)(const void *)p, tmp, sizeof(tmp)));
		break;
	case CT_LISTEN: {
		const struct mm_config *c = base;
		for (unsigned i = 0; i < c->nlisten; i++)
			fprintf(out, "%s = %s\n", k->key, c->listen[i].text);
		break;
	}
	}
}

void mm_config_print(const struct mm_config *c, FILE *out)
{
	int first = 1;

	for (size_t s = 0; s < NSECTIONS; s++) {
		const struct sectiondef *sd = &sections[s];
		unsigned ninst = sd->named ? c->nexporters : 1;

		for (unsigned n = 0; n < ninst; n++) {
			const void *base = c;

			if (!first)
				fputc('\n', out);
			first = 0;
			if (sd->named) {
				base = &c->exporters[n];
				fprintf(out, "[%s %s]\n", sd->name, c->exporters[n].name);
			} else {
				fprintf(out, "[%s]\n", sd->name);
			}
			for (size_t i = 0; i < sd->nkeys; i++)
				if (strcmp(sd->keys[i].section, sd->name) == 0)
					print_key(&sd->keys[i], base, out);
		}
	}
}

const struct mm_exporter_cfg *mm_config_exporter(const struct mm_config *c, const uint8_t addr[16])
{
	const struct mm_exporter_cfg *best = NULL;
	int i;

	if (c->exporter_lpm != NULL) {
		i = mm_lpm_lookup(c->exporter_lpm, addr);
		return i >= 0 && (unsigned)i < c->nexporters ? &c->exporters[i] : NULL;
	}
	/* A config built by hand (tests): the same answer, the slow way. */
	for (unsigned j = 0; j < c->nexporters; j++)
		if (mm_prefix_contains(&c->exporters[j].prefix, addr) &&
		    (best == NULL || c->exporters[j].prefix.len > best->prefix.len))
			best = &c->exporters[j];
	return best;
}
