/*
 * muldiv.h - floor(a * b / c) for b <= c, exactly, without a 128-bit type:
 * how the aggregator (aggregate.c) and the fast path (fastpath.c) spread a
 * flow's counts over time in proportion, each part within 1 of its exact
 * share.  Shared so that both spread the same way.
 */
#ifndef MAMORI_MULDIV_H
#define MAMORI_MULDIV_H

#include <stdint.h>

/*
 * floor(a * b / c) for b <= c, c > 0, exactly, without a 128-bit type: the
 * result is <= a, so it always fits.  Byte counts times milliseconds
 * overflow 64 bits easily (a saturated UINT64_MAX byte count times any
 * duration), so the slow path forms the 128-bit product from 32-bit
 * halves and divides it by shift-and-subtract.  Rare: only when a * b
 * does not fit in 64 bits.
 */
static inline uint64_t mm_muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t a0, a1, b0, b1, p00, p01, p10, p11, mid, hi, lo, q, r;

	if (b == c)
		return a;
	if (a == 0 || b == 0)
		return 0;
	if (a <= UINT64_MAX / b)
		return a * b / c;
	a0 = a & 0xffffffffu;
	a1 = a >> 32;
	b0 = b & 0xffffffffu;
	b1 = b >> 32;
	p00 = a0 * b0;
	p01 = a0 * b1;
	p10 = a1 * b0;
	p11 = a1 * b1;
	mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu); /* < 3 * 2^32 */
	lo = (mid << 32) | (p00 & 0xffffffffu);
	hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
	/* a * b < a * c, so the quotient is < 2^64 and hi < c: the running
	 * remainder starts below c and stays below c. */
	q = 0;
	r = hi;
	for (int i = 63; i >= 0; i--) {
		uint64_t carry = r >> 63;

		r = (r << 1) | ((lo >> i) & 1);
		q <<= 1;
		/* with carry the true remainder is >= 2^64 > c; the
		 * subtraction is then right modulo 2^64 */
		if (carry || r >= c) {
			r -= c;
			q |= 1;
		}
	}
	return q;
}

#endif
