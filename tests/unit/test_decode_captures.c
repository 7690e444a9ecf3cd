/*
 * Every NetFlow v5/v9 and IPFIX capture in ../shared/captures decodes to
 * exactly the flow-record count its README gives (options data records are
 * consumed, never emitted), with nothing rejected.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/testutil.h"

#define CAP "../shared/captures/"

static const struct {
	const char *path;
	uint64_t flows, options;
} caps[] = {
	{ CAP "export/akvorado_ipfix_ipfixprobe-biflow.pcap", 4, 0 },
	{ CAP "export/akvorado_ipfix_mpls.pcap", 2, 1 },
	{ CAP "export/akvorado_nfv5.pcap", 29, 0 },
	{ CAP "export/akvorado_nfv9_icmp-port2100.pcap", 4, 0 },
	/* The README counts the 10 records tshark decodes; the datagram also
	 * holds an 11-record set (660 bytes / 60-byte records) sent before its
	 * template, which we hold and decode when the template follows:
	 * 11 + 10 = 21, matching the v9 header count (24 = 21 + 3 templates
	 * and options records). */
	{ CAP "export/akvorado_nfv9_juniper-sampling-data-before-template.pcap", 21, 1 },
	{ CAP "export/akvorado_nfv9_options+template+data.pcap", 4, 4 },
	{ CAP "export/logstash_ipfix_juniper-mx240-options.pcap", 0, 1 },
	{ CAP "export/logstash_ipfix_mikrotik-routeros.pcap", 46, 0 },
	{ CAP "export/logstash_ipfix_multi-message.pcap", 12, 1 },
	{ CAP "export/logstash_ipfix_netscaler-varlen.pcap", 3, 0 },
	{ CAP "export/logstash_ipfix_openbsd-pflow.pcap", 26, 0 },
	{ CAP "export/logstash_ipfix_yaf-applabel.pcap", 2, 1 },
	{ CAP "export/logstash_nfv5_juniper-mx80.pcap", 29, 0 },
	{ CAP "export/logstash_nfv5_multi-datagram.pcap", 30, 0 },
	{ CAP "export/logstash_nfv9_cisco-asa.pcap", 14, 0 },
	{ CAP "export/logstash_nfv9_cisco-asr9k.pcap", 21, 19 },
	{ CAP "export/logstash_nfv9_fortigate-fortios542-appid.pcap", 17, 0 },
	{ CAP "export/logstash_nfv9_h3c-netstream-varstring.pcap", 1, 0 },
	{ CAP "export/logstash_nfv9_nprobe+softflowd-two-exporters.pcap", 8, 1 },
	{ CAP "export/logstash_nfv9_paloalto-panos.pcap", 8, 0 },
	{ CAP "export/logstash_nfv9_ubnt-edgerouter-mpls.pcap", 16, 0 },
	{ CAP "export/ndpi_nfv9_port2057-no-templates.pcap", 0, 0 },
	{ CAP "export/pmacct-ta_ipfix_cisco-ipv6-sampling-option.pcap", 3, 1 },
	{ CAP "export/pmacct-ta_ipfix_cisco.pcap", 12, 0 },
	{ CAP "export/pmacct-ta_nfv9+ipfix_two-exporters-ipv4-ipv6.pcap", 24, 0 },
	{ CAP "export/pmacct-ta_nfv9_cisco.pcap", 51, 0 },
	{ CAP "generated/nfreplay_v5_slips-test1-scan-part-a.pcap", 2619, 0 },
	{ CAP "generated/nfreplay_v9_slips-test1-scan-part-a.pcap", 2619, 0 },
	{ CAP "generated/pmacct-nfprobe_ipfix_synscan.pcap", 2002, 0 },
	{ CAP "generated/pmacct-nfprobe_v5_synscan.pcap", 2002, 0 },
	{ CAP "generated/softflowd_ipfix-biflow_normal-https-periodic.pcap", 261, 1 },
	{ CAP "generated/softflowd_ipfix_http-ipv6.pcap", 30, 1 },
	{ CAP "generated/softflowd_ipfix_normal-https-periodic.pcap", 521, 2 },
	{ CAP "generated/softflowd_ipfix_synflood.pcap", 37669, 75 },
	{ CAP "generated/softflowd_ipfix_synscan.pcap", 2002, 4 },
	{ CAP "generated/softflowd_v5_normal-https-periodic.pcap", 521, 0 },
	{ CAP "generated/softflowd_v5_synflood.pcap", 37669, 0 },
	{ CAP "generated/softflowd_v5_synscan.pcap", 2002, 0 },
	{ CAP "generated/softflowd_v9_http-ipv6.pcap", 30, 1 },
	{ CAP "generated/softflowd_v9_icmp-scan.pcap", 29, 1 },
	{ CAP "generated/softflowd_v9_normal-https-periodic.pcap", 521, 2 },
	{ CAP "generated/softflowd_v9_normal-iphone.pcap", 85, 1 },
	{ CAP "generated/softflowd_v9_synflood.pcap", 37669, 75 },
	{ CAP "generated/softflowd_v9_synscan.pcap", 2002, 4 },
};

START_TEST(capture_counts)
{
	struct tu_decoded d = { 0 };
	ck_assert_msg(tu_decode_capture(&d, caps[_i].path) == 0, "cannot read %s", caps[_i].path);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_msg(d.nrecs == caps[_i].flows, "%s: %zu flow records, expected %llu", caps[_i].path, d.nrecs,
		      (unsigned long long)caps[_i].flows);
	ck_assert_uint_eq(st.records, caps[_i].flows);
	ck_assert_msg(st.options_records == caps[_i].options, "%s: %llu options records, expected %llu",
		      caps[_i].path, (unsigned long long)st.options_records,
		      (unsigned long long)caps[_i].options);
	ck_assert_msg(st.malformed == 0 && d.rejected == 0, "%s: %llu malformed: %s", caps[_i].path,
		      (unsigned long long)st.malformed, d.nex ? d.ex[0]->err : "");
	if (strstr(caps[_i].path, "/generated/") != NULL) {
		/* Complete exports from one run of a real exporter: no gap may
		 * be taken for loss (softflowd's IPFIX numbering included). */
		ck_assert_msg(st.lost_packets == 0 && st.lost_records == 0 && st.seq_resets == 0,
			      "%s: lost %llu packets, %llu records, %llu resets", caps[_i].path,
			      (unsigned long long)st.lost_packets, (unsigned long long)st.lost_records,
			      (unsigned long long)st.seq_resets);
	}
	for (size_t i = 0; i < d.nrecs; i++) {
		ck_assert_msg(d.recs[i].start_ms <= d.recs[i].end_ms, "%s: record %zu ends before it starts",
			      caps[_i].path, i);
		ck_assert_uint_ge(d.recs[i].sampling_rate, 1);
	}
	tu_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decode_captures");
	TCase *tc = tcase_create("counts");
	tcase_add_loop_test(tc, capture_counts, 0, (int)(sizeof(caps) / sizeof(caps[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
