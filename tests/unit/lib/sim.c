#include <math.h>
#include "sim.h"

uint64_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

double unif(struct rng *r)
{
	return (double)(rnd(r) >> 11) * 0x1.0p-53;
}

uint64_t poisson(struct rng *r, double lambda)
{
	double l, p = 1;
	uint64_t k = 0;

	if (lambda <= 0)
		return 0;
	if (lambda > 60) {
		double z = sqrt(-2 * log(unif(r) + 1e-300)) * cos(2 * M_PI * unif(r));
		double n = lambda + sqrt(lambda) * z;
		return n < 0 ? 0 : (uint64_t)(n + 0.5);
	}
	l = exp(-lambda);
	do {
		k++;
		p *= unif(r);
	} while (p > l);
	return k - 1;
}
