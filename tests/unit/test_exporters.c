/*
 * test_exporters.c - the exporter table (exporters.h): lookup-or-create,
 * LRU eviction at max_exporters (counted, counters kept in the totals),
 * per-exporter configuration, the allowlist, reconfiguration, and a long
 * random run checked against a reference model.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/config.h"
#include "mamori/exporters.h"
#include "mamori/flow.h"

static void a4(uint8_t a[16], uint32_t v)
{
	const uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	mm_addr_set4(a, b);
}

static void a6(uint8_t a[16], uint32_t v)
{
	memset(a, 0, 16);
	a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
	a[12] = (uint8_t)(v >> 24), a[13] = (uint8_t)(v >> 16), a[14] = (uint8_t)(v >> 8), a[15] = (uint8_t)v;
}

static void load(struct mm_config *c, const char *text)
{
	ck_assert_int_eq(mm_config_load_string(c, "test.conf", text, stderr), 0);
}

struct order {
	char s[256];
};

static void list(void *arg, struct mm_exporter *ex)
{
	struct order *o = arg;
	char a[64];
	size_t n = strlen(o->s);

	snprintf(o->s + n, sizeof(o->s) - n, "%s%s", n ? " " : "", mm_addr_str(ex->addr, a, sizeof(a)));
}

/* The addresses, most recent first. */
static const char *order(const struct mm_exporters *t, struct order *o)
{
	o->s[0] = '\0';
	mm_exporters_foreach(t, list, o);
	return o->s;
}

START_TEST(lru_eviction)
{
	struct order o;
	struct mm_config c;
	struct mm_exporters *t;
	struct mm_exporter *ex[6];
	struct mm_exporter_stats tot;
	uint8_t a[6][16];

	mm_config_defaults(&c);
	c.limits.max_exporters = 4;
	t = mm_exporters_new(&c);
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 6; i++)
		a4(a[i], 0xc0000201u + (uint32_t)i); /* 192.0.2.1 ... */
	for (int i = 0; i < 4; i++) {
		ex[i] = mm_exporters_get(t, a[i], 1000 + (uint64_t)i);
		ck_assert_ptr_nonnull(ex[i]);
		ck_assert_mem_eq(ex[i]->addr, a[i], 16);
		ck_assert_uint_eq(ex[i]->last_seen_ms, 1000 + (uint64_t)i);
		ck_assert_ptr_eq(ex[i]->lim, ex[0]->lim);
		ck_assert_uint_eq(ex[i]->lim->max_exporters, 4);
		ex[i]->st.datagrams = 10u + (uint64_t)i; /* as if decoded */
	}
	ck_assert_uint_eq(mm_exporters_count(t), 4);
	ck_assert_str_eq(order(t, &o), "192.0.2.4 192.0.2.3 192.0.2.2 192.0.2.1");
	/* Same address: the same state, now most recent. */
	ck_assert_ptr_eq(mm_exporters_get(t, a[0], 2000), ex[0]);
	ck_assert_uint_eq(ex[0]->last_seen_ms, 2000);
	ck_assert_str_eq(order(t, &o), "192.0.2.1 192.0.2.4 192.0.2.3 192.0.2.2");
	/* Lookup only: no LRU change. */
	ck_assert_ptr_eq(mm_exporters_find(t, a[2]), ex[2]);
	ck_assert_ptr_null(mm_exporters_find(t, a[4]));
	ck_assert_str_eq(order(t, &o), "192.0.2.1 192.0.2.4 192.0.2.3 192.0.2.2");

	/* A fifth exporter evicts the least recently seen (192.0.2.2). */
	ex[4] = mm_exporters_get(t, a[4], 3000);
	ck_assert_ptr_nonnull(ex[4]);
	ck_assert_uint_eq(mm_exporters_count(t), 4);
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, 1);
	ck_assert_uint_eq(mm_exporters_stats(t)->created, 5);
	ck_assert_ptr_null(mm_exporters_find(t, a[1]));
	ck_assert_str_eq(order(t, &o), "192.0.2.5 192.0.2.1 192.0.2.4 192.0.2.3");
	/* Its counters stay in the totals. */
	mm_exporters_totals(t, &tot);
	ck_assert_uint_eq(tot.datagrams, 10 + 11 + 12 + 13);
	/* Coming back, it is new (and evicts 192.0.2.3). */
	ex[1] = mm_exporters_get(t, a[1], 4000);
	ck_assert_uint_eq(ex[1]->st.datagrams, 0);
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, 2);
	ck_assert_str_eq(order(t, &o), "192.0.2.2 192.0.2.5 192.0.2.1 192.0.2.4");
	mm_exporters_totals(t, &tot);
	ck_assert_uint_eq(tot.datagrams, 10 + 11 + 12 + 13);
	mm_exporters_free(t);
	mm_config_free(&c);
}
END_TEST

START_TEST(one_slot)
{
	struct order o;
	struct mm_config c;
	struct mm_exporters *t;
	uint8_t a[16], b[16];

	mm_config_defaults(&c);
	c.limits.max_exporters = 1;
	t = mm_exporters_new(&c);
	a4(a, 1);
	a6(b, 1);
	for (int i = 0; i < 10; i++) {
		ck_assert_ptr_nonnull(mm_exporters_get(t, i % 2 ? b : a, 0));
		ck_assert_uint_eq(mm_exporters_count(t), 1);
	}
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, 9);
	ck_assert_str_eq(order(t, &o), "2001:db8::1");
	mm_exporters_free(t);
	mm_config_free(&c);
}
END_TEST

START_TEST(config_applied)
{
	struct mm_config c, c2;
	struct mm_exporters *t;
	struct mm_exporter *ex;
	uint8_t a[16];

	load(&c, "[collector]\n"
		 "default_sampling_rate = 4\n"
		 "[exporter edge]\n"
		 "address = 192.0.2.0/25\n"
		 "sampling_rate = 100\n"
		 "[exporter core]\n"
		 "address = 192.0.2.128/25\n"
		 "default_rate = 10\n"
		 "[exporter v6]\n"
		 "address = 2001:db8::/32\n"
		 "default_rate = 0\n");
	t = mm_exporters_new(&c);
	a4(a, 0xc0000205u); /* 192.0.2.5: edge */
	ex = mm_exporters_get(t, a, 0);
	ck_assert_uint_eq(ex->cfg_rate, 100);
	ck_assert_uint_eq(ex->default_rate, 4);
	a4(a, 0xc0000281u); /* 192.0.2.129: core */
	ex = mm_exporters_get(t, a, 0);
	ck_assert_uint_eq(ex->cfg_rate, 0);
	ck_assert_uint_eq(ex->default_rate, 10);
	a6(a, 7); /* v6: listed, default_rate 0 = the collector's */
	ex = mm_exporters_get(t, a, 0);
	ck_assert_uint_eq(ex->cfg_rate, 0);
	ck_assert_uint_eq(ex->default_rate, 4);
	ck_assert_uint_eq(ex->af, 6);
	a4(a, 0xc6336401u); /* 198.51.100.1: unlisted, allowed by default */
	ex = mm_exporters_get(t, a, 0);
	ck_assert_ptr_nonnull(ex);
	ck_assert_uint_eq(ex->cfg_rate, 0);
	ck_assert_uint_eq(ex->default_rate, 4);
	ck_assert_uint_eq(ex->af, 4);

	/* Reload: new rates, and now an allowlist that drops 198.51.100.1. */
	load(&c2, "[collector]\n"
		  "allow_unlisted_exporters = no\n"
		  "[exporter edge]\n"
		  "address = 192.0.2.0/24\n"
		  "sampling_rate = 1000\n"
		  "[exporter v6]\n"
		  "address = 2001:db8::/32\n");
	mm_exporters_reconfigure(t, &c2);
	mm_config_free(&c);
	ck_assert_uint_eq(mm_exporters_count(t), 3);
	ck_assert_uint_eq(mm_exporters_stats(t)->removed, 1);
	ck_assert_ptr_null(mm_exporters_find(t, a));
	a4(a, 0xc0000281u);
	ex = mm_exporters_find(t, a);
	ck_assert_uint_eq(ex->cfg_rate, 1000);
	ck_assert_uint_eq(ex->default_rate, 1);
	/* Unlisted addresses are refused, counted, and get no state. */
	a4(a, 0xc6336402u);
	ck_assert_ptr_null(mm_exporters_get(t, a, 0));
	ck_assert_ptr_null(mm_exporters_get(t, a, 0));
	ck_assert_uint_eq(mm_exporters_stats(t)->denied, 2);
	ck_assert_uint_eq(mm_exporters_count(t), 3);
	/* The freed slot is reused. */
	a4(a, 0xc0000299u);
	ck_assert_ptr_nonnull(mm_exporters_get(t, a, 0));
	ck_assert_uint_eq(mm_exporters_count(t), 4);
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, 0);
	mm_exporters_free(t);
	mm_config_free(&c2);
}
END_TEST

/* Reconfigure that removes everything, then fill again past the cap. */
START_TEST(reconfigure_remove_all_refill)
{
	struct order o;
	struct mm_config c, deny;
	struct mm_exporters *t;
	uint8_t a[16];

	mm_config_defaults(&c);
	c.limits.max_exporters = 8;
	t = mm_exporters_new(&c);
	for (uint32_t i = 0; i < 8; i++) {
		a4(a, i);
		mm_exporters_get(t, a, 0)->st.records = 1;
	}
	mm_config_defaults(&deny);
	deny.allow_unlisted_exporters = 0;
	mm_exporters_reconfigure(t, &deny);
	ck_assert_uint_eq(mm_exporters_count(t), 0);
	ck_assert_uint_eq(mm_exporters_stats(t)->removed, 8);
	ck_assert_str_eq(order(t, &o), "");
	mm_exporters_reconfigure(t, &c);
	for (uint32_t i = 100; i < 120; i++) {
		a4(a, i);
		ck_assert_ptr_nonnull(mm_exporters_get(t, a, 0));
	}
	ck_assert_uint_eq(mm_exporters_count(t), 8);
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, 12);
	{
		struct mm_exporter_stats tot;
		mm_exporters_totals(t, &tot);
		ck_assert_uint_eq(tot.records, 8);
	}
	mm_exporters_free(t);
	mm_config_free(&c);
	mm_config_free(&deny);
}
END_TEST

/* Many random operations against a plain LRU list. */
START_TEST(random_against_model)
{
	enum { CAP = 37, KEYS = 200, OPS = 20000 };
	struct mm_config c;
	struct mm_exporters *t;
	uint32_t model[CAP], n = 0, x = 7;
	uint64_t evicted = 0;
	uint8_t a[16];

	mm_config_defaults(&c);
	c.limits.max_exporters = CAP;
	c.limits.max_templates = 1; /* keep the states small */
	c.limits.max_domains = 1;
	t = mm_exporters_new(&c);
	for (int op = 0; op < OPS; op++) {
		uint32_t k, j;
		struct mm_exporter *ex;

		x = x * 1103515245u + 12345u;
		k = (x >> 8) % KEYS;
		if (k % 2)
			a4(a, k);
		else
			a6(a, k);
		if ((x >> 4) % 4 == 0) { /* lookup only */
			for (j = 0; j < n && model[j] != k; j++)
				;
			ck_assert_int_eq(mm_exporters_find(t, a) != NULL, j < n);
			continue;
		}
		ex = mm_exporters_get(t, a, (uint64_t)op);
		ck_assert_ptr_nonnull(ex);
		ck_assert_mem_eq(ex->addr, a, 16);
		/* model: move or insert at the front, evicting the back */
		for (j = 0; j < n && model[j] != k; j++)
			;
		if (j == n) {
			if (n == CAP) {
				n--;
				evicted++;
			}
			j = n++;
		}
		memmove(model + 1, model, j * sizeof(model[0]));
		model[0] = k;
	}
	ck_assert_uint_eq(mm_exporters_count(t), n);
	ck_assert_uint_eq(mm_exporters_stats(t)->evicted, evicted);
	for (uint32_t j = 0; j < n; j++) {
		if (model[j] % 2)
			a4(a, model[j]);
		else
			a6(a, model[j]);
		ck_assert_ptr_nonnull(mm_exporters_find(t, a));
	}
	mm_exporters_free(t);
	mm_config_free(&c);
}
END_TEST

START_TEST(stat_fields)
{
	struct mm_exporter_stats st;

	memset(&st, 0, sizeof(st));
	st.datagrams = 1;
	st.domains_evicted = 20;
	st.malformed = 8;
	ck_assert_uint_eq(mm_exporter_nstat_fields, sizeof(st) / sizeof(uint64_t));
	ck_assert_str_eq(mm_exporter_stat_fields[0].name, "datagrams");
	ck_assert_uint_eq(mm_stat_get(&st, 0), 1);
	ck_assert_str_eq(mm_exporter_stat_fields[7].name, "malformed");
	ck_assert_uint_eq(mm_stat_get(&st, 7), 8);
	ck_assert_str_eq(mm_exporter_stat_fields[mm_exporter_nstat_fields - 1].name, "domains_evicted");
	ck_assert_uint_eq(mm_stat_get(&st, mm_exporter_nstat_fields - 1), 20);
	ck_assert_uint_eq(mm_stat_get(&st, mm_exporter_nstat_fields), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exporters");
	TCase *tc = tcase_create("table");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lru_eviction);
	tcase_add_test(tc, one_slot);
	tcase_add_test(tc, config_applied);
	tcase_add_test(tc, reconfigure_remove_all_refill);
	tcase_add_test(tc, random_against_model);
	tcase_add_test(tc, stat_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
