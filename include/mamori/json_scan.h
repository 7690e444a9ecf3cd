/*
 * json_scan.h - reading the top-level members of one flat JSON object, as
 * the alert lines of docs/alerts.md are: `mamori eval` reads them from
 * files, `mamori exabgp` from the alert stream.  Strict and bounded: a
 * line that is not exactly one object is refused, nesting deeper than 64
 * is refused, nested values are skipped whole, nothing is allocated.
 */
#ifndef MAMORI_JSON_SCAN_H
#define MAMORI_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct mm_json_span {
	const char *p; /* the value's text (a string without its quotes) */
	size_t n;
	int str;       /* a string */
	int set;       /* the member was there */
};

/* v[i] gets the member named keys[i] (the last one when repeated).
 * 0, or -1 if text is not one JSON object. */
int mm_json_members(const char *text, const char *const *keys, size_t nkeys, struct mm_json_span *v);
/* A string member into out (escapes refused: our keys and values have
 * none).  0, or -1 when absent, not a string, escaped or too long. */
int mm_json_str(const struct mm_json_span *s, char *out, size_t outlen);
/* A non-negative integer member.  0, or -1. */
int mm_json_u64(const struct mm_json_span *s, uint64_t *out);
/* Past blanks and tabs. */
const char *mm_json_skip_ws(const char *p);

#endif
