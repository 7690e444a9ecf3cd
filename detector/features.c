/*
 * features.c - what the detector reads off a host window (score.h).
 *
 * Every counter becomes a per-second rate and a sampled count; the
 * detection features are a handful of combinations chosen so that one
 * attack raises one class: inbound TCP without the SYN-only packets (the
 * SYN flood's), inbound UDP without the unsolicited amplification (the
 * reflection's), and so on.
 */
#include <math.h>
#include <string.h>

#include "mamori/score.h"

static const struct mm_feat_info feat_info[MM_F_COUNT] = {
	[MM_F_TCP_PKTS_IN] = { "tcp_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_UDP_PKTS_IN] = { "udp_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_ICMP_PKTS_IN] = { "icmp_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_OTHER_PKTS_IN] = { "other_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_FLOOD_PKTS_IN] = { "flood_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_SYN_PKTS_IN] = { "syn_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_AMP_PKTS_IN] = { "amp_pkts_in", MM_U_PKTS, MM_W_FAST },
	[MM_F_AUTH_FLOWS_IN] = { "auth_flows_in", MM_U_FLOWS, MM_W_SLOW },
	[MM_F_PKTS_OUT] = { "pkts_out", MM_U_PKTS, MM_W_FAST },
	[MM_F_FLOOD_PKTS_OUT] = { "flood_pkts_out", MM_U_PKTS, MM_W_FAST },
	[MM_F_BYTES_OUT] = { "bytes_out", MM_U_BYTES, MM_W_SLOW },
	[MM_F_SYN_FLOWS_OUT] = { "syn_flows_out", MM_U_FLOWS, MM_W_SLOW },
	[MM_F_SMALL_FLOWS_OUT] = { "small_flows_out", MM_U_FLOWS, MM_W_SLOW },
	[MM_F_PEERS_OUT] = { "peers_out", MM_U_DISTINCT, MM_W_SLOW },
	[MM_F_DPORTS_OUT] = { "dports_out", MM_U_DISTINCT, MM_W_SLOW },
	[MM_F_AUTH_FLOWS_OUT] = { "auth_flows_out", MM_U_FLOWS, MM_W_SLOW },
};

const struct mm_feat_info *mm_feat_info(enum mm_feat f)
{
	return (unsigned)f < MM_F_COUNT ? &feat_info[f] : NULL;
}

const char *mm_feat_unit_name(enum mm_feat f)
{
	static const char *const units[] = {
		[MM_U_PKTS] = "pps", [MM_U_BYTES] = "B/s", [MM_U_FLOWS] = "flows/s", [MM_U_DISTINCT] = "distinct",
	};

	return (unsigned)f < MM_F_COUNT ? units[feat_info[f].unit] : NULL;
}

/* a - b, never below 0: the parts subtracted are estimates of their own
 * (sampled flags, spread bytes) and may exceed the whole by a little. */
static double minus(double a, double b)
{
	return a > b ? a - b : 0.0;
}

void mm_features_compute(const struct mm_hoststep *h, double span_s, uint32_t sampling_rate,
			 struct mm_features *out)
{
	const uint64_t *c = h->ctr;
	double scaled[MM_F_COUNT];
	double amp_pkts = 0, amp_best = 0, rate;

	memset(out, 0, sizeof(*out));
	if (!(span_s > 0))
		span_s = 1;
	if (sampling_rate == 0)
		sampling_rate = 1;
	rate = (double)sampling_rate;
	out->span_s = span_s;
	out->sampling_rate = sampling_rate;
	out->amp_vector = -1;
	for (int i = 0; i < MM_C_COUNT; i++) {
		out->rate[i] = (double)c[i] / span_s;
		out->sampled[i] = (double)c[i] / rate;
	}
	for (int s = 0; s < MM_S_COUNT; s++)
		out->distinct[s] = mm_hll_estimate(&h->hll[s]);
	for (unsigned v = 0; v < MM_AMP_SLOTS; v++) {
		amp_pkts += (double)c[MM_C_AMP_PKTS_IN + v];
		if ((double)c[MM_C_AMP_BYTES_IN + v] > amp_best) {
			amp_best = (double)c[MM_C_AMP_BYTES_IN + v];
			out->amp_vector = (int)v;
		}
	}

	/* Scaled counts of the features that are counters.  Amplification
	 * answers to the host's own UDP out (a resolver's) are solicited. */
	double amp_unsolicited = minus(amp_pkts, (double)c[MM_C_UDP_PKTS_OUT]);
	double matched = amp_pkts < (double)c[MM_C_UDP_PKTS_OUT] ? amp_pkts : (double)c[MM_C_UDP_PKTS_OUT];

	out->amp_matched_sampled = matched / rate;
	out->amp_sampled = amp_pkts / rate;
	out->top_peer_in_sampled = (double)h->peers_in[0].count / rate; /* sorted, largest first */

	scaled[MM_F_TCP_PKTS_IN] = minus((double)c[MM_C_TCP_PKTS_IN], (double)c[MM_C_SYN_PKTS_IN]);
	scaled[MM_F_UDP_PKTS_IN] = minus((double)c[MM_C_UDP_PKTS_IN], amp_unsolicited);
	scaled[MM_F_ICMP_PKTS_IN] = (double)c[MM_C_ICMP_PKTS_IN];
	scaled[MM_F_OTHER_PKTS_IN] = (double)c[MM_C_OTHER_PKTS_IN];
	scaled[MM_F_FLOOD_PKTS_IN] = scaled[MM_F_TCP_PKTS_IN] + scaled[MM_F_UDP_PKTS_IN] +
				     scaled[MM_F_ICMP_PKTS_IN] + scaled[MM_F_OTHER_PKTS_IN];
	scaled[MM_F_SYN_PKTS_IN] = (double)c[MM_C_SYN_PKTS_IN];
	scaled[MM_F_AMP_PKTS_IN] = amp_unsolicited;
	scaled[MM_F_AUTH_FLOWS_IN] = (double)c[MM_C_AUTH_FLOWS_IN];
	scaled[MM_F_PKTS_OUT] = (double)c[MM_C_PKTS_OUT];
	scaled[MM_F_FLOOD_PKTS_OUT] = (double)c[MM_C_UDP_PKTS_OUT] + (double)c[MM_C_ICMP_PKTS_OUT] +
				      (double)c[MM_C_OTHER_PKTS_OUT] + (double)c[MM_C_SYN_PKTS_OUT];
	scaled[MM_F_BYTES_OUT] = (double)c[MM_C_BYTES_OUT];
	scaled[MM_F_SYN_FLOWS_OUT] = (double)c[MM_C_SYN_FLOWS_OUT];
	scaled[MM_F_SMALL_FLOWS_OUT] = (double)c[MM_C_SMALL_FLOWS_OUT];
	scaled[MM_F_AUTH_FLOWS_OUT] = (double)c[MM_C_AUTH_FLOWS_OUT];

	for (int f = 0; f < MM_F_COUNT; f++) {
		if (feat_info[f].unit == MM_U_DISTINCT)
			continue;
		out->value[f] = scaled[f] / span_s;
		out->value_sampled[f] = scaled[f] / rate;
	}
	/* Distinct counts are of sampled records already: no scaling. */
	out->value[MM_F_PEERS_OUT] = out->value_sampled[MM_F_PEERS_OUT] = out->distinct[MM_S_PEERS_OUT];
	out->value[MM_F_DPORTS_OUT] = out->value_sampled[MM_F_DPORTS_OUT] = out->distinct[MM_S_DPORTS_OUT];
}

double mm_features_mbps(const struct mm_features *f, enum mm_ctr bytes_ctr)
{
	return (unsigned)bytes_ctr < MM_C_COUNT ? f->rate[bytes_ctr] * 8.0 / 1e6 : 0.0;
}

const struct mm_features *mm_view_of(const struct mm_view *v, enum mm_feat f)
{
	if ((unsigned)f < MM_F_COUNT && feat_info[f].window == MM_W_SLOW && v->slow != NULL)
		return v->slow;
	return v->fast;
}
