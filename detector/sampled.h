/*
 * sampled.h - (private to detector/) sampled units and the Poisson floor,
 * shared by the baselines' clipping and the scores so that both agree on
 * what "one sigma" is.
 */
#ifndef MAMORI_DETECTOR_SAMPLED_H
#define MAMORI_DETECTOR_SAMPLED_H

#include <math.h>
#include "mamori/score.h"

/* Relative standard error of the window's HyperLogLog (64 registers). */
#define MM_HLL_REL_ERR 0.13
/* Bytes per packet assumed for a bytes feature with nothing better known. */
#define MM_DEFAULT_PKT_SIZE 1000.0

/* Sampled units per feature unit over the span of x: a rate times the span
 * is the scaled count, divided by the rate the sampled one. */
static inline double mm_sampled_per_unit(const struct mm_features *x, enum mm_feat f)
{
	return mm_feat_info(f)->unit == MM_U_DISTINCT ? 1.0 : x->span_s / (double)x->sampling_rate;
}

/*
 * The least spread an observation `obs` against an expectation `exp` (both
 * sampled units) can have: the Poisson noise of counting sampled packets.
 * The brief's floor is sqrt(exp); we take the mean of sqrt(obs) and
 * sqrt(exp), so that with this floor the score is 2 (sqrt(obs) -
 * sqrt(exp)), the square-root (Anscombe) transform under which a Poisson
 * count is close to normal even far out in the tail.  With sqrt(exp)
 * alone a host expecting 6 sampled packets scores 6.6 sigma on 22 of
 * them, which happens once in 400 000 windows (the simulated background
 * raised false floods at 4 per million host-windows); the transform puts
 * that at 4.5.  exp is taken as at least 1: one sampled packet more than
 * nothing is about one sigma, not infinitely many.
 *
 * Bytes: a compound Poisson sum, the packet size times the packets'
 * floor.  Distinct counts: the Poisson part and the sketch's own 13 %
 * error.  extra_var (sampled units squared) is noise the feature carries
 * besides its own count: mm_extra_var.
 */
static inline double mm_poisson_spread(double obs, double exp, double extra_var)
{
	double e = (exp > 1.0 ? exp : 1.0) + extra_var;
	double o = (obs > 0.0 ? obs : 0.0) + extra_var;
	double mid = 0.5 * (sqrt(o) + sqrt(e));

	return mid > sqrt(e) ? mid : sqrt(e);
}

static inline double mm_sampled_floor(enum mm_feat f, double obs, double exp, double obs_pkts, double exp_pkts,
				      double pkt_size, double extra_var)
{
	double d;

	switch (mm_feat_info(f)->unit) {
	case MM_U_BYTES:
		return pkt_size * mm_poisson_spread(obs_pkts, exp_pkts, 0.0);
	case MM_U_DISTINCT:
		d = mm_poisson_spread(obs, exp, extra_var);
		return sqrt(d * d + (MM_HLL_REL_ERR * exp) * (MM_HLL_REL_ERR * exp));
	case MM_U_PKTS:
	case MM_U_FLOWS:
		break;
	}
	return mm_poisson_spread(obs, exp, extra_var);
}

/* Unsolicited amplification is a difference, amplification in minus UDP
 * out, and carries the Poisson noise of both: for a resolver whose answers
 * match its queries that noise is all there is. */
static inline double mm_extra_var(const struct mm_features *x, enum mm_feat f)
{
	return f == MM_F_AMP_PKTS_IN ? 2.0 * x->amp_matched_sampled : 0.0;
}

/* Bytes per packet out: from the baseline when it knows, else from what
 * is observed, else MM_DEFAULT_PKT_SIZE. */
static inline double mm_pkt_size_out(const struct mm_baseline *b, const struct mm_features *x)
{
	if (b != NULL && b->mean[MM_F_PKTS_OUT] > 0 && b->mean[MM_F_BYTES_OUT] > 0)
		return (double)b->mean[MM_F_BYTES_OUT] / (double)b->mean[MM_F_PKTS_OUT];
	if (x->rate[MM_C_PKTS_OUT] > 0 && x->rate[MM_C_BYTES_OUT] > 0)
		return x->rate[MM_C_BYTES_OUT] / x->rate[MM_C_PKTS_OUT];
	return MM_DEFAULT_PKT_SIZE;
}

/* Bytes per packet out for a score's floor: the larger of what the
 * baseline knows and what the window itself carries.  The packets behind
 * the bytes are the window's own: a sum of N sampled packets of this size
 * has a spread of about the size x sqrt(N) whatever the baseline says.  The
 * baseline's ratio alone is no guide for a sparse host: its bytes (slow
 * window) and packets (fast window) are learnt at different paces, and
 * while a quiet host wakes up their ratio fell to 2 bytes a packet, which
 * made a dozen sampled 100-byte packets a 70-sigma exfiltration. */
static inline double mm_pkt_size_scored(const struct mm_baseline *b, const struct mm_features *x)
{
	double s = mm_pkt_size_out(b, x);

	if (x->rate[MM_C_PKTS_OUT] > 0 && x->rate[MM_C_BYTES_OUT] / x->rate[MM_C_PKTS_OUT] > s)
		s = x->rate[MM_C_BYTES_OUT] / x->rate[MM_C_PKTS_OUT];
	return s;
}

/* Steps per hour (at least 1). */
static inline uint32_t mm_steps_per_hour(const struct mm_detect_params *p)
{
	uint32_t s = p->step_s > 0 ? 3600 / p->step_s : 1;

	return s > 0 ? s : 1;
}

#endif
