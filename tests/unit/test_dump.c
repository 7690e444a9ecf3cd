/*
 * test_dump.c - JSON-lines output of flow records (dump.h): exact lines,
 * field order, null addresses, extremes, escaping, the stdio sink.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/dump.h"
#include "mamori/flow.h"

static void v4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	const uint8_t b[4] = { x, y, z, w };
	mm_addr_set4(a, b);
}

static struct mm_flow flow4(void)
{
	struct mm_flow f;

	memset(&f, 0, sizeof(f));
	v4(f.exporter, 192, 0, 2, 1);
	f.exporter_af = 4;
	v4(f.src_addr, 10, 0, 0, 1);
	v4(f.dst_addr, 203, 0, 113, 254);
	f.af = 4;
	f.format = MM_FMT_IPFIX;
	f.domain = 7;
	f.template_id = 256;
	f.proto = 6;
	f.src_port = 443;
	f.dst_port = 51000;
	f.tcp_flags = 27;
	f.tos = 0xb8;
	f.bytes = 1500;
	f.packets = 3;
	f.sampling_rate = 1000;
	f.sampling_src = MM_SAMPLING_LEARNT;
	f.bytes_scaled = 1500000;
	f.packets_scaled = 3000;
	f.start_ms = 1700000000000ull;
	f.end_ms = 1700000001000ull;
	f.in_if = 1;
	f.out_if = 2;
	f.src_as = 64496;
	f.dst_as = 64511;
	f.direction = MM_DIR_INGRESS;
	return f;
}

START_TEST(line_ipv4)
{
	struct mm_flow f = flow4();
	char buf[MM_DUMP_LINE_MAX];
	static const char want[] =
		"{\"type\":\"flow\",\"format\":\"ipfix\",\"exporter\":\"192.0.2.1\",\"domain\":7,\"template\":256,"
		"\"src\":\"10.0.0.1\",\"dst\":\"203.0.113.254\",\"af\":4,\"proto\":6,\"sport\":443,\"dport\":51000,"
		"\"tcp_flags\":27,\"tos\":184,\"bytes\":1500,\"packets\":3,\"sampling_rate\":1000,"
		"\"sampling_source\":\"learnt\",\"bytes_scaled\":1500000,\"packets_scaled\":3000,"
		"\"start_ms\":1700000000000,\"end_ms\":1700000001000,\"in_if\":1,\"out_if\":2,\"src_as\":64496,"
		"\"dst_as\":64511,\"direction\":\"ingress\"}\n";

	ck_assert_uint_eq(mm_dump_format(&f, buf), strlen(want));
	ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(line_ipv6_netflow9_egress)
{
	struct mm_flow f = flow4();
	char buf[MM_DUMP_LINE_MAX];
	static const uint8_t x6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t d6[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55 };
	static const char want[] =
		"{\"type\":\"flow\",\"format\":\"netflow9\",\"exporter\":\"2001:db8::53\",\"domain\":0,\"template\":1024,"
		"\"src\":\"2001:db8:1::1\",\"dst\":\"fe80::211:22ff:fe33:4455\",\"af\":6,\"proto\":58,\"sport\":0,"
		"\"dport\":32768,\"tcp_flags\":0,\"tos\":0,\"bytes\":64,\"packets\":1,\"sampling_rate\":1,"
		"\"sampling_source\":\"defaulted\",\"bytes_scaled\":64,\"packets_scaled\":1,\"start_ms\":0,"
		"\"end_ms\":0,\"in_if\":0,\"out_if\":0,\"src_as\":0,\"dst_as\":0,\"direction\":\"egress\"}\n";

	memset(&f, 0, sizeof(f));
	memcpy(f.exporter, x6, 16);
	f.exporter_af = 6;
	memcpy(f.src_addr, s6, 16);
	memcpy(f.dst_addr, d6, 16);
	f.af = 6;
	f.format = MM_FMT_NETFLOW9;
	f.template_id = 1024;
	f.proto = 58;
	f.dst_port = 0x8000; /* ICMPv6 echo request: type 128 << 8 */
	f.bytes = f.bytes_scaled = 64;
	f.packets = f.packets_scaled = 1;
	f.sampling_rate = 1;
	f.sampling_src = MM_SAMPLING_DEFAULTED;
	f.direction = MM_DIR_EGRESS;
	mm_dump_format(&f, buf);
	ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(line_no_addresses)
{
	struct mm_flow f = flow4();
	char buf[MM_DUMP_LINE_MAX];
	static const char want[] =
		"{\"type\":\"flow\",\"format\":\"sflow5\",\"exporter\":\"192.0.2.1\",\"domain\":7,\"template\":0,"
		"\"src\":null,\"dst\":null,\"af\":0,\"proto\":0,\"sport\":0,\"dport\":0,\"tcp_flags\":0,\"tos\":0,"
		"\"bytes\":1500,\"packets\":1,\"sampling_rate\":512,\"sampling_source\":\"header\","
		"\"bytes_scaled\":768000,\"packets_scaled\":512,\"start_ms\":5,\"end_ms\":5,\"in_if\":3,"
		"\"out_if\":0,\"src_as\":0,\"dst_as\":0,\"direction\":\"unknown\"}\n";

	f.af = 0;
	f.format = MM_FMT_SFLOW5;
	f.template_id = 0;
	f.proto = f.tcp_flags = f.tos = 0;
	f.src_port = f.dst_port = 0;
	f.packets = 1;
	f.sampling_rate = 512;
	f.sampling_src = MM_SAMPLING_HEADER;
	f.bytes_scaled = 768000;
	f.packets_scaled = 512;
	f.start_ms = f.end_ms = 5;
	f.in_if = 3;
	f.out_if = 0;
	f.src_as = f.dst_as = 0;
	f.direction = MM_DIR_UNKNOWN;
	mm_dump_format(&f, buf);
	ck_assert_str_eq(buf, want);
}
END_TEST

/* Every name of every enum, and values outside them. */
START_TEST(names)
{
	static const struct {
		unsigned fmt;
		const char *name;
	} fmts[] = { { MM_FMT_NETFLOW5, "\"format\":\"netflow5\"" }, { MM_FMT_NETFLOW9, "\"format\":\"netflow9\"" },
		     { MM_FMT_IPFIX, "\"format\":\"ipfix\"" },       { MM_FMT_SFLOW5, "\"format\":\"sflow5\"" },
		     { MM_FMT_NFLOG, "\"format\":\"nflog\"" },       { 0, "\"format\":\"unknown\"" },
		     { 77, "\"format\":\"unknown\"" } };
	static const char *const srcs[] = { "defaulted", "header", "learnt", "record", "configured", "unknown" };
	static const char *const dirs[] = { "unknown", "ingress", "egress", "unknown" };
	struct mm_flow f = flow4();
	char buf[MM_DUMP_LINE_MAX], want[64];

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		f.format = (uint16_t)fmts[i].fmt;
		mm_dump_format(&f, buf);
		ck_assert_msg(strstr(buf, fmts[i].name) != NULL, "%s not in %s", fmts[i].name, buf);
	}
	for (unsigned i = 0; i < 6; i++) {
		f.sampling_src = (uint8_t)(i < 5 ? i : 200);
		mm_dump_format(&f, buf);
		snprintf(want, sizeof(want), "\"sampling_source\":\"%s\",", srcs[i]);
		ck_assert_msg(strstr(buf, want) != NULL, "%s not in %s", want, buf);
	}
	for (unsigned i = 0; i < 4; i++) {
		f.direction = (uint8_t)(i < 3 ? i : 99);
		mm_dump_format(&f, buf);
		snprintf(want, sizeof(want), "\"direction\":\"%s\"}\n", dirs[i]);
		ck_assert_msg(strstr(buf, want) != NULL, "%s not in %s", want, buf);
	}
}
END_TEST

/* The longest line there is still fits, and the numbers are right. */
START_TEST(extremes)
{
	struct mm_flow f;
	char buf[MM_DUMP_LINE_MAX];
	size_t n;
	static const char want[] =
		"{\"type\":\"flow\",\"format\":\"netflow9\",\"exporter\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\","
		"\"domain\":4294967295,\"template\":65535,\"src\":\"::ffff:255.255.255.255\","
		"\"dst\":\"1111:2222:3333:4444:5555:6666:7777:8888\",\"af\":6,\"proto\":255,\"sport\":65535,"
		"\"dport\":65535,\"tcp_flags\":255,\"tos\":255,\"bytes\":18446744073709551615,"
		"\"packets\":18446744073709551615,\"sampling_rate\":4294967295,\"sampling_source\":\"configured\","
		"\"bytes_scaled\":18446744073709551615,\"packets_scaled\":18446744073709551615,"
		"\"start_ms\":18446744073709551615,\"end_ms\":18446744073709551615,\"in_if\":4294967295,"
		"\"out_if\":4294967295,\"src_as\":4294967295,\"dst_as\":4294967295,\"direction\":\"ingress\"}\n";
	static const uint8_t d6[16] = { 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44,
					0x55, 0x55, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88 };

	memset(&f, 0xff, sizeof(f));
	v4(f.src_addr, 255, 255, 255, 255); /* a v4-mapped address in an IPv6 record */
	memcpy(f.dst_addr, d6, 16);
	f.exporter_af = 6;
	f.af = 6;
	f.format = MM_FMT_NETFLOW9;
	f.sampling_src = MM_SAMPLING_CONFIGURED;
	f.direction = MM_DIR_INGRESS;
	n = mm_dump_format(&f, buf);
	ck_assert_str_eq(buf, want);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_uint_lt(n + 1, MM_DUMP_LINE_MAX);

	/* Zeroes everywhere, exporter family not set: guessed from the address. */
	memset(&f, 0, sizeof(f));
	v4(f.exporter, 0, 0, 0, 0);
	mm_dump_format(&f, buf);
	{
		static const char pfx[] =
			"{\"type\":\"flow\",\"format\":\"unknown\",\"exporter\":\"0.0.0.0\",\"domain\":0,";
		ck_assert_msg(strncmp(buf, pfx, sizeof(pfx) - 1) == 0, "%s", buf);
	}
	memset(f.exporter, 0, 16);
	mm_dump_format(&f, buf);
	ck_assert_msg(strstr(buf, "\"exporter\":\"::\",") != NULL, "%s", buf);
	/* Unknown record families print null. */
	f.af = 5;
	mm_dump_format(&f, buf);
	ck_assert_msg(strstr(buf, "\"src\":null,\"dst\":null,\"af\":5,") != NULL, "%s", buf);
}
END_TEST

START_TEST(json_string_escaping)
{
	char out[128];
	static const char in[] = "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f\xc3\xa9 z";
	static const char want[] = "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\\u00c3\\u00a9 z\"";

	ck_assert_uint_eq(mm_json_string(out, sizeof(out), in, sizeof(in) - 1), strlen(want));
	ck_assert_str_eq(out, want);
	/* Embedded NUL: length-driven, not NUL-terminated. */
	ck_assert_uint_eq(mm_json_string(out, sizeof(out), "x\0y", 3), 10);
	ck_assert_str_eq(out, "\"x\\u0000y\"");
	ck_assert_uint_eq(mm_json_string(out, sizeof(out), "", 0), 2);
	ck_assert_str_eq(out, "\"\"");
	/* Exactly fits (3 chars + quotes + NUL = 6), one byte short, far too short. */
	ck_assert_uint_eq(mm_json_string(out, 6, "abc", 3), 5);
	ck_assert_str_eq(out, "\"abc\"");
	ck_assert_uint_eq(mm_json_string(out, 5, "abc", 3), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(mm_json_string(out, 8, "\x01", 1), 0);
	ck_assert_uint_eq(mm_json_string(out, 9, "\x01", 1), 8);
	ck_assert_uint_eq(mm_json_string(out, 2, "", 0), 0);
	ck_assert_uint_eq(mm_json_string(out, 0, "", 0), 0);
}
END_TEST

START_TEST(sink_one_line_per_record)
{
	struct mm_dump d;
	struct mm_flow f = flow4();
	struct mm_flow_sink sink = { mm_dump_flow, &d };
	char *mem = NULL, line[MM_DUMP_LINE_MAX];
	size_t memlen = 0, n;
	FILE *out = open_memstream(&mem, &memlen);

	ck_assert_ptr_nonnull(out);
	mm_dump_init(&d, out);
	for (int i = 0; i < 3; i++) {
		f.src_port = (uint16_t)(1000 + i);
		sink.emit(sink.arg, &f);
	}
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_uint_eq(d.lines, 3);
	ck_assert_int_eq(d.error, 0);
	n = mm_dump_format(&f, line);
	ck_assert_uint_eq(memlen, 3 * n);
	ck_assert_str_eq(mem + 2 * n, line);
	/* Newlines only at the end of each line, each after the closing brace. */
	for (size_t i = 0, nl = 0; i < memlen; i++) {
		if (mem[i] == '\n') {
			ck_assert_uint_eq(i, (nl + 1) * n - 1);
			ck_assert_int_eq(mem[i - 1], '}');
			nl++;
		}
		if (i == memlen - 1)
			ck_assert_uint_eq(nl, 3);
	}
	ck_assert_msg(strstr(mem, "\"sport\":1001,") != NULL, "%s", mem);
	free(mem);
}
END_TEST

START_TEST(sink_write_error)
{
	struct mm_dump d;
	struct mm_flow f = flow4();
	FILE *full = fopen("/dev/full", "w");

	if (full == NULL)
		return; /* no /dev/full here */
	setvbuf(full, NULL, _IONBF, 0);
	mm_dump_init(&d, full);
	mm_dump_flow(&d, &f);
	mm_dump_flow(&d, &f);
	ck_assert_int_eq(d.error, ENOSPC);
	ck_assert_uint_eq(d.lines, 0);
	fclose(full);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, line_ipv4);
	tcase_add_test(tc, line_ipv6_netflow9_egress);
	tcase_add_test(tc, line_no_addresses);
	tcase_add_test(tc, names);
	tcase_add_test(tc, extremes);
	tcase_add_test(tc, json_string_escaping);
	suite_add_tcase(s, tc);
	tc = tcase_create("sink");
	tcase_add_test(tc, sink_one_line_per_record);
	tcase_add_test(tc, sink_write_error);
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
