/*
 * Template and sampler persistence: what one collector learnt, exported and
 * imported into a fresh exporter state, decodes data at once - the restart
 * and the second-collector cases - and a corrupt store is refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/capture.h"
#include "lib/testutil.h"

struct kv {
	char field[64];
	uint8_t val[8192];
	size_t len;
};
struct store {
	struct kv kv[64];
	unsigned n;
};

static void put(void *arg, const char *field, const uint8_t *val, size_t len)
{
	struct store *s = arg;
	ck_assert_uint_lt(s->n, 64);
	ck_assert_uint_le(len, sizeof(s->kv[0].val));
	snprintf(s->kv[s->n].field, sizeof(s->kv[0].field), "%s", field);
	memcpy(s->kv[s->n].val, val, len);
	s->kv[s->n].len = len;
	s->n++;
}

/* The datagrams of a capture, to replay by hand. */
struct dgrams {
	uint8_t *p[2048];
	size_t len[2048];
	unsigned n;
};
static int keep(void *arg, const uint8_t src[16], int af, uint16_t sport, const uint8_t *p, size_t len, uint64_t ts)
{
	(void)src; (void)af; (void)sport; (void)ts;
	struct dgrams *d = arg;
	if (d->n == 2048)
		return 1;
	d->p[d->n] = malloc(len);
	memcpy(d->p[d->n], p, len);
	d->len[d->n++] = len;
	return 0;
}

static int has_template_set(const uint8_t *p, size_t len)
{
	/* v9: flowset ids 0/1 right after the 20-byte header (softflowd puts
	 * templates first) */
	return len > 22 && p[20] == 0 && p[21] <= 1;
}

START_TEST(restart_decodes_without_waiting_for_templates)
{
	struct dgrams dg = { 0 };
	ck_assert_int_gt(mm_capture_read("../shared/captures/generated/softflowd_v9_normal-https-periodic.pcap", keep,
					 &dg, NULL, NULL, 0), 2);
	struct tu_decoded a = { 0 };
	for (unsigned i = 0; i < dg.n; i++)
		tu_decode_bytes(&a, dg.p[i], dg.len[i], 0);
	ck_assert_uint_gt(a.nrecs, 0);
	ck_assert_uint_gt(a.ex[0]->tmpl_gen, 0);
	struct store st = { 0 };
	mm_exporter_export(a.ex[0], put, &st);
	ck_assert_uint_ge(st.n, 5); /* 4 data templates, 1 options template, its rate */

	/* A fresh state fed only the data-only datagrams loses them ... */
	struct tu_decoded cold = { 0 }, warm = { 0 };
	for (unsigned i = 0; i < dg.n; i++)
		if (!has_template_set(dg.p[i], dg.len[i]))
			tu_decode_bytes(&cold, dg.p[i], dg.len[i], 0);
	ck_assert_uint_eq(cold.nrecs, 0);
	/* ... while one that imported the store decodes every record at once */
	tu_decode_bytes(&warm, (const uint8_t *)"\0\0\0\0", 4, 0); /* creates the exporter */
	for (unsigned i = 0; i < st.n; i++)
		ck_assert_int_eq(mm_exporter_import(warm.ex[0], st.kv[i].field, st.kv[i].val, st.kv[i].len), 0);
	for (unsigned i = 0; i < dg.n; i++)
		if (!has_template_set(dg.p[i], dg.len[i]))
			tu_decode_bytes(&warm, dg.p[i], dg.len[i], 0);
	ck_assert_uint_gt(warm.nrecs, 0);
	ck_assert_uint_eq(tu_stats(&warm).pending_queued, 0);
	ck_assert_uint_eq(warm.recs[0].sampling_src, MM_SAMPLING_LEARNT);
	/* the imported state re-exports identically */
	struct store st2 = { 0 };
	mm_exporter_export(warm.ex[0], put, &st2);
	ck_assert_uint_eq(st2.n, st.n);
	for (unsigned i = 0; i < st.n; i++) {
		int found = 0;
		for (unsigned k = 0; k < st2.n; k++)
			if (strcmp(st.kv[i].field, st2.kv[k].field) == 0) {
				found = 1;
				ck_assert_uint_eq(st.kv[i].len, st2.kv[k].len);
				ck_assert_mem_eq(st.kv[i].val, st2.kv[k].val, st.kv[i].len);
			}
		ck_assert_msg(found, "%s not re-exported", st.kv[i].field);
	}
	tu_free(&a);
	tu_free(&cold);
	tu_free(&warm);
	for (unsigned i = 0; i < dg.n; i++)
		free(dg.p[i]);
}
END_TEST

START_TEST(corrupt_store_refused)
{
	struct tu_decoded d = { 0 };
	tu_decode_bytes(&d, (const uint8_t *)"\0\0\0\0", 4, 0);
	struct mm_exporter *ex = d.ex[0];
	const uint8_t v_bad[] = { 2, 0, 0, 0, 0, 1, 0, 8, 0, 4, 0, 0, 0, 0 };        /* unknown version */
	const uint8_t v_short[] = { 1, 0, 0, 0, 0, 2, 0, 8, 0, 4, 0, 0, 0, 0 };      /* 2 fields, 1 given */
	const uint8_t v_zero[] = { 1, 0, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0 };       /* a zero-byte record */
	const uint8_t v_ok[] = { 1, 0, 0, 0, 0, 1, 0, 8, 0, 4, 0, 0, 0, 0 };
	const uint8_t v_rate[] = { 1, 0, 0, 3, 0xe8 };
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.300", v_bad, sizeof(v_bad)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.300", v_short, sizeof(v_short)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.300", v_zero, sizeof(v_zero)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.7", v_ok, sizeof(v_ok)), -1);   /* reserved id */
	ck_assert_int_eq(mm_exporter_import(ex, "t.5.0.300", v_ok, sizeof(v_ok)), -1); /* v5 has none */
	ck_assert_int_eq(mm_exporter_import(ex, "x.9.0.300", v_ok, sizeof(v_ok)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.300junk", v_ok, sizeof(v_ok)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "s.10.0.1", v_ok, sizeof(v_ok)), -1);
	ck_assert_int_eq(mm_exporter_import(ex, "t.9.0.300", v_ok, sizeof(v_ok)), 0);
	ck_assert_int_eq(mm_exporter_import(ex, "s.10.0.1", v_rate, sizeof(v_rate)), 0);
	ck_assert_uint_eq(ex->st.templates, 0);
	tu_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("persist");
	TCase *tc = tcase_create("persist");
	tcase_add_test(tc, restart_decodes_without_waiting_for_templates);
	tcase_add_test(tc, corrupt_store_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
