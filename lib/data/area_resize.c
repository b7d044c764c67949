/* area_resize — see area_resize.h.
 *
 * Exact integer weights: with g = gcd(n, m) for n input and m output pixels
 * along an axis, measure lengths in units of 1/(m/g) input pixel. Then
 * input pixel j covers [j*a, (j+1)*a) with a = m/g, output pixel i covers
 * [i*b, (i+1)*b) with b = n/g, every overlap is a whole number of units,
 * and an output's weights sum to b. A 2-D output pixel is then
 * sum(wy * wx * v) / (bx * by), done as a vertical pass over whole rows (a
 * vectorizable multiply-add) and a horizontal pass on its result, both in
 * integers; only the final division rounds. */
#include "data/area_resize.h"

#include <stdlib.h>

#include "base/cli.h"

#define MAX_SIZE (1u << 16)

/* Along one axis: output i takes count[i] inputs from first[i], with
 * weights wt[off[i]...]. */
struct axis {
	uint32_t *first, *count, *off; /* (m) */
	uint32_t *wt;                  /* (n + m) at most */
	uint32_t sum;                  /* b: each output's weights add to it */
};

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Fills ax for n inputs -> m outputs; its arrays are carved from mem, which
 * holds 4m + n uint32. */
static void axis_plan(struct axis *ax, uint32_t *mem, uint32_t n, uint32_t m)
{
	uint64_t g = gcd(n, m), a = m / g, b = n / g;
	ax->first = mem;
	ax->count = mem + m;
	ax->off = mem + 2 * m;
	ax->wt = mem + 3 * m;
	ax->sum = (uint32_t)b;
	uint32_t k = 0;
	for (uint32_t i = 0; i < m; i++) {
		uint64_t lo = i * b, hi = lo + b;
		uint64_t j0 = lo / a, j1 = (hi + a - 1) / a; /* inputs [j0, j1) */
		ax->first[i] = (uint32_t)j0;
		ax->count[i] = (uint32_t)(j1 - j0);
		ax->off[i] = k;
		for (uint64_t j = j0; j < j1; j++) {
			uint64_t s = j * a > lo ? j * a : lo;
			uint64_t e = (j + 1) * a < hi ? (j + 1) * a : hi;
			ax->wt[k++] = (uint32_t)(e - s);
		}
	}
}

/* col[x] = sum over taps of wt * row[x]. Vectorized: it is the bulk of
 * the work (every input pixel passes here once, or twice where an input
 * row straddles two output rows). */
__attribute__((optimize("tree-vectorize")))
static void vertical(uint32_t *restrict col /* (w) */, const uint8_t *restrict src /* (h, w) */,
	uint32_t w, uint32_t first, uint32_t count, const uint32_t *wt)
{
	const uint8_t *row = src + (size_t)first * w;
	uint32_t k = wt[0];
	for (uint32_t x = 0; x < w; x++)
		col[x] = k * row[x];
	for (uint32_t t = 1; t < count; t++) {
		row += w;
		k = wt[t];
		for (uint32_t x = 0; x < w; x++)
			col[x] += k * row[x];
	}
}

int cxr_resize_area(uint8_t *dst, uint32_t ow, uint32_t oh,
	const uint8_t *src, uint32_t w, uint32_t h)
{
	if (!ow || !oh || !w || !h || ow > MAX_SIZE || oh > MAX_SIZE ||
	    w > MAX_SIZE || h > MAX_SIZE || (uint64_t)w * h > (1u << 30)) {
		cxr_seterr("cannot resize %ux%u to %ux%u", (unsigned)w,
			(unsigned)h, (unsigned)ow, (unsigned)oh);
		return -1;
	}
	/* x plan, y plan, one column-sum row */
	uint32_t *mem = cxr_alloc_array((size_t)4 * ow + w + 4 * oh + h + w, sizeof *mem);
	if (!mem)
		return -1;
	struct axis ax, ay;
	axis_plan(&ax, mem, w, ow);
	axis_plan(&ay, mem + 4 * ow + w, h, oh);
	uint32_t *col = mem + 4 * ow + w + 4 * oh + h;

	uint64_t den = (uint64_t)ax.sum * ay.sum, half = den / 2;
	int shift = -1; /* den is a power of two in the common cases */
	if ((den & (den - 1)) == 0)
		for (shift = 0; (1ull << shift) < den; shift++)
			;
	for (uint32_t i = 0; i < oh; i++) {
		vertical(col, src, w, ay.first[i], ay.count[i], ay.wt + ay.off[i]);
		uint8_t *out = dst + (size_t)i * ow;
		for (uint32_t x = 0; x < ow; x++) {
			const uint32_t *c = col + ax.first[x], *wt = ax.wt + ax.off[x];
			uint64_t acc = half;
			for (uint32_t t = 0; t < ax.count[x]; t++)
				acc += (uint64_t)wt[t] * c[t];
			/* acc < 2^40, so the double quotient floors exactly */
			out[x] = (uint8_t)(shift >= 0 ? acc >> shift
				: (uint64_t)((double)acc / (double)den));
		}
	}
	free(mem);
	return 0;
}
