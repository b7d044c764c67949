/* rng — see rng.h. */
#include "base/rng.h"

#include <math.h>

uint64_t cxr_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t cxr_seed_mix(uint64_t v, uint64_t k) { return cxr_splitmix64(&v) ^ k; }

void cxr_rng_seed(cxr_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = cxr_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cxr_rng_u64(cxr_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Lemire's multiply-and-reject: one multiplication, rarely a retry. */
uint64_t cxr_rng_below(cxr_rng *r, uint64_t n)
{
	__uint128_t m = (__uint128_t)cxr_rng_u64(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n; /* 2^64 mod n: the values to reject */
		while (lo < t) {
			m = (__uint128_t)cxr_rng_u64(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double cxr_rng_uniform(cxr_rng *r) { return (cxr_rng_u64(r) >> 11) * 0x1.0p-53; }

double cxr_rng_normal(cxr_rng *r)
{
	double u1 = 1.0 - cxr_rng_uniform(r), u2 = cxr_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void cxr_rng_shuffle(cxr_rng *r, uint64_t *idx, uint64_t n)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = cxr_rng_below(r, i);
		uint64_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}
