/* rng — small seeded generators: splitmix64 to expand a seed, xoshiro256**
 * for streams of numbers. Deterministic across machines; the state is four
 * words a checkpoint can store. */
#ifndef CXR_RNG_H
#define CXR_RNG_H
#include <stdint.h>

typedef struct cxr_rng {
	uint64_t s[4];
} cxr_rng;

uint64_t cxr_splitmix64(uint64_t *x);
/* One step of deriving a seed: splitmix64's first output for the state v,
 * xor k. A generator for one stream of one thing is
 * cxr_seed_mix(cxr_seed_mix(seed, stream), thing) and so on, each value
 * independent of the others (cxr-synth's images, cxr_auc_bootstrap's
 * replicates). */
uint64_t cxr_seed_mix(uint64_t v, uint64_t k);
void cxr_rng_seed(cxr_rng *r, uint64_t seed);
uint64_t cxr_rng_u64(cxr_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t cxr_rng_below(cxr_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double cxr_rng_uniform(cxr_rng *r);
/* Standard normal (Box-Muller, one value per call). */
double cxr_rng_normal(cxr_rng *r);
/* Fisher-Yates shuffle of n indices. */
void cxr_rng_shuffle(cxr_rng *r, uint64_t *idx, uint64_t n);

#endif
