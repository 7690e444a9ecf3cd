/* sim.h - seeded random numbers for the tests that simulate traffic
 * (xorshift64: deterministic for a seed, good enough for test shapes). */
#ifndef MAMORI_TEST_SIM_H
#define MAMORI_TEST_SIM_H

#include <stdint.h>

struct rng {
	uint64_t s; /* seed: non-zero */
};

uint64_t rnd(struct rng *r);
/* Uniform in [0, 1). */
double unif(struct rng *r);
/* Poisson with mean lambda (normal approximation above 60). */
uint64_t poisson(struct rng *r, double lambda);

#endif
