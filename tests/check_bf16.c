/* check_bf16 — the bf16 arithmetic against fp32 and double references.
 *
 * The bounds are derived, not tuned. Rounding x to bf16 (8-bit
 * significand) gives x(1 + d), |d| <= u = 2^-8; a product of two rounded
 * operands is a(1+d1) b(1+d2), so |ab - round(a)round(b)| <= (2u + u^2)|ab|.
 * The product of two bf16 values is exact in fp32 (16 significant bits
 * of 24), so with fp32 sums over a reduction of length k (error at most
 * g(k) = k 2^-24 / (1 - k 2^-24) times the sum of |terms|), a bf16 dot
 * product s' of exact value s obeys
 *	|s' - s| <= (2u + u^2 + g(k)(1 + 2u + u^2)) sum |a_i b_i|.
 * Against a double reference computed from the rounded operands the
 * bound is g(k) sum |a_i b_i|: that proves the kernel sums what it should.
 *
 * Exits 78 (the runner's "unsupported here", not a skip) on a CPU without
 * AVX512_BF16. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gemm.h"
#include "nn/precision.h"
#include "testutil.h"

static const double U = 1.0 / 256; /* 2^-8: half an ulp of an 8-bit significand */

static double gamma_k(long k)
{
	double e = (double)k * ldexp(1, -24);
	return e / (1 - e);
}

static uint64_t lcg = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
	lcg ^= lcg << 13, lcg ^= lcg >> 7, lcg ^= lcg << 17;
	return (lcg >> 11) * (1.0 / 9007199254740992.0);
}

static float *frand(size_t n, double lo, double hi)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(lo + (hi - lo) * urand());
	return p;
}

static float rb(float x)
{
	return cxr_bf16_float(cxr_bf16_round(x));
}

START_TEST(rounding)
{
	/* ties to even, both directions; carry into the exponent */
	ck_assert(rb(1.0f + 0x1p-8f) == 1.0f);             /* tie, even stays */
	ck_assert(rb(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f); /* tie, odd rounds up */
	ck_assert(rb(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
	ck_assert(rb(0x1.ffp0f) == 2.0f);
	ck_assert(rb(-3.0f) == -3.0f);
	ck_assert(isinf(rb(INFINITY)) && rb(-INFINITY) < 0);
	ck_assert(isnan(rb(NAN)));
	ck_assert(rb(0x1p-130f) == 0 && signbit(rb(-0x1p-130f))); /* subnormal: zero */
	ck_assert(isinf(rb(0x1.ffffp127f)));                       /* rounds past the largest */
	/* the relative error bound over many values */
	for (int i = 0; i < 100000; i++) {
		float x = (float)((urand() - 0.5) * pow(2, 40 * urand() - 20));
		if (x == 0)
			continue;
		ck_assert_msg(fabs(rb(x) - x) <= U * fabs(x), "%a -> %a", x, rb(x));
	}
}
END_TEST

/* cxr_gemm_bf16 against (1) double sums of the rounded operands, to
 * g(k), and (2) the exact product of the fp32 operands, to the bf16
 * bound; beta 0 must not read C; the padding between rows is kept. */
static void check_gemm(int ta, int tb, int m, int n, int k, float beta, int pad)
{
	int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
	size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
	size_t nc = (size_t)m * ldc;
	float *a = frand(na, -1, 1), *b = frand(nb, -1, 1), *c0 = frand(nc, -1, 1);
	float *c = malloc(nc * sizeof *c);
	memcpy(c, c0, nc * sizeof *c);
	if (!beta)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[(size_t)i * ldc + j] = NAN;
	cxr_gemm_bf16(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
	double worst1 = 0, worst2 = 0;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++) {
			size_t at = (size_t)i * ldc + j;
			if (j >= n) {
				ck_assert(c[at] == c0[at]);
				continue;
			}
			double init = beta ? c0[at] : 0, s_round = init, s_exact = init, mag = fabs(init);
			for (int p = 0; p < k; p++) {
				float x = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
				float y = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
				s_round += (double)rb(x) * rb(y);
				s_exact += (double)x * y;
				mag += fabs((double)x * y);
			}
			/* + 1: the add of the old C, one more rounding */
			double b1 = gamma_k(k + 1) * (mag * (1 + 2 * U + U * U));
			double b2 = (2 * U + U * U) * mag + b1;
			double e1 = fabs(c[at] - s_round), e2 = fabs(c[at] - s_exact);
			ck_assert_msg(e1 <= b1, "bf16 gemm ta%d tb%d %dx%dx%d (%d,%d): %.3g from the "
				      "rounded operands' sum, bound %.3g", ta, tb, m, n, k, i, j, e1, b1);
			ck_assert_msg(e2 <= b2, "bf16 gemm ta%d tb%d %dx%dx%d (%d,%d): %.3g from the "
				      "exact sum, bound %.3g", ta, tb, m, n, k, i, j, e2, b2);
			if (mag > 0) {
				worst1 = fmax(worst1, e1 / b1);
				worst2 = fmax(worst2, e2 / b2);
			}
		}
	free(a), free(b), free(c0), free(c);
}

START_TEST(gemm)
{
	for (int t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1;
		check_gemm(ta, tb, 1, 1, 1, 0, 0);
		check_gemm(ta, tb, 13, 33, 17, 1, 2);     /* odd k: a zero-padded pair */
		check_gemm(ta, tb, 200, 70, 400, 0, 1);   /* edges of every block */
		check_gemm(ta, tb, 30, 100, 1601, 1, 3);  /* k past one block, odd */
		check_gemm(ta, tb, 20, 30, 7000, 1, 0);   /* long k: split among threads */
		check_gemm(ta, tb, 5, 7, 0, 0, 0);
		check_gemm(ta, tb, 3, 16, 31, 0, 0);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bf16");
	TCase *tc = tcase_create("kernels");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, rounding);
	tcase_add_test(tc, gemm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!cxr_cpu_has_bf16()) {
		printf("unsupported: this CPU lacks AVX512_BF16; the bf16 proofs did not run\n");
		return 78;
	}
	return test_run_suite(suite());
}
