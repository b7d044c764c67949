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
 * On a CPU without AVX512_BF16 it runs the tests that need none (bf16
 * rounding, batch norm on bf16 tensors: plain C), then exits 78 (the
 * runner's "unsupported here", not a skip) for the rest. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/gemm.h"
#include "nn/precision.h"
#include "nn/init.h"
#include "nn/maxpool.h"
#include "nn/resnet.h"
#include "resnet_golden.h"
#include "gemm_split.h"
#include "testutil.h"

static const double U = 1.0 / 256; /* 2^-8: half an ulp of an 8-bit significand */

static double gamma_k(long k)
{
	double e = (double)k * ldexp(1, -24);
	return e / (1 - e);
}


static float rb(float x)
{
	return cxr_bf16_float(cxr_bf16_round(x));
}

/* x (n) rounded to bf16 in place; its bf16 form returned. */
static uint16_t *to_bf16(float *x, size_t n)
{
	uint16_t *h = malloc(n * sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = cxr_bf16_round(x[i]), x[i] = cxr_bf16_float(h[i]);
	return h;
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
		float x = (float)((test_urand() - 0.5) * pow(2, 40 * test_urand() - 20));
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
	float *a = test_frand(na, -1, 1), *b = test_frand(nb, -1, 1), *c0 = test_frand(nc, -1, 1);
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

START_TEST(gemm_split)
{
	gemm_split_check(CXR_PREC_BF16);
}
END_TEST

/* cxr_gemm_prepacked_act against cxr_gemm_prepacked on the same values:
 * a bf16 A is the fp32 A holding its values (the product rounds A's
 * values to bf16 anyway), a bf16 C the fp32 result rounded once, a bf16 C
 * added to the product the fp32 C holding its values: the same bits, for
 * every mix of fp32 and bf16 operands, on one block of k and on several
 * (a bf16 C's partial sums kept in fp32), at any thread count, row
 * strides past the row's end kept. */
static void check_gemm_act(int m, int n, int k, int pad, int accum, int relu)
{
	const int lda = k + pad, ldc = n + pad;
	float *af = test_frand((size_t)m * lda, -1, 1), *c0 = test_frand((size_t)m * ldc, -1, 1);
	float *b = test_frand((size_t)k * n, -1, 1), *bias = test_frand(n, -0.5, 0.5);
	uint16_t *a16 = to_bf16(af, (size_t)m * lda), *c16 = malloc((size_t)m * ldc * 2);
	for (size_t i = 0; i < (size_t)m * ldc; i++)
		c0[i] = rb(c0[i]);
	float *packed = aligned_alloc(64, cxr_gemm_packed_size(CXR_PREC_BF16, n, k) * sizeof(float));
	cxr_gemm_pack_b(CXR_PREC_BF16, 0, n, k, b, n, packed);
	float *ref = malloc((size_t)m * ldc * sizeof *ref), *cf = malloc((size_t)m * ldc * sizeof *cf);
	memcpy(ref, c0, (size_t)m * ldc * sizeof *ref);
	cxr_gemm_prepacked(CXR_PREC_BF16, 0, m, n, k, af, lda, packed, accum, bias, relu, ref, ldc,
			   NULL);
	const int saved = omp_get_max_threads();
	for (int nt = 1; nt <= 3; nt++) {
		omp_set_num_threads(nt);
		for (int mix = 1; mix < 4; mix++) {
			const int abf = mix & 1, cbf = mix >> 1;
			memcpy(cf, c0, (size_t)m * ldc * sizeof *cf);
			for (size_t i = 0; i < (size_t)m * ldc; i++)
				c16[i] = cxr_bf16_round(c0[i]);
			cxr_gemm_prepacked_act(m, n, k, abf ? (const void *)a16 : af, abf, lda, packed,
					       accum, bias, relu, cbf ? (void *)c16 : cf, cbf, ldc);
			for (int i = 0; i < m; i++)
				for (int j = 0; j < ldc; j++) {
					size_t at = (size_t)i * ldc + j;
					float got = cbf ? cxr_bf16_float(c16[at]) : cf[at];
					float want = j >= n ? c0[at] : cbf ? rb(ref[at]) : ref[at];
					ck_assert_msg(!memcmp(&got, &want, sizeof got),
						      "gemm_act %dx%dx%d A %s C %s accum %d relu %d, %d threads: "
						      "(%d,%d) %a, want %a", m, n, k, abf ? "bf16" : "fp32",
						      cbf ? "bf16" : "fp32", accum, relu, nt, i, j, got, want);
				}
		}
	}
	omp_set_num_threads(saved);
	free(af), free(c0), free(b), free(bias), free(a16), free(c16), free(packed), free(ref), free(cf);
}

START_TEST(gemm_act)
{
	static const int ms[] = {1, 13, 14, 15, 225, 700};
	static const int ns[] = {31, 64, 200};
	static const int ks[] = {2, 33, 64, 1600, 1601}; /* odd: copied, a zero completing the pair */
	for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
		for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
			for (size_t q = 0; q < sizeof ks / sizeof *ks; q++) {
				check_gemm_act(ms[i], ns[j], ks[q], 0, (int)(i + q) & 1, (int)j & 1);
				check_gemm_act(ms[i], ns[j], ks[q], 1 + (int)q % 2, !((int)(i + q) & 1),
					       !((int)j & 1));
			}
}
END_TEST
/* cxr_gemm_bf16_act against cxr_gemm_bf16 on the fp32 operands holding
 * the bf16 ones' values (packing was their rounding), a bf16 C the fp32
 * result rounded once: the same bits for every mix (bits 1, 2, 4 of mix:
 * A, B, C in bf16), A plain (read where it lies, or copied where its
 * stride is odd) or transposed, odd k (a pair completed with a zero), k
 * over several blocks and split among threads (an fp32 C), row strides
 * past the row's end (the rows of a bf16 gradient lie at twice theirs). */
static void check_gemm_bf16_act(int ta, int m, int n, int k, float beta, int pad, int mix)
{
	const int lda = (ta ? m : k) + pad, ldb = n + pad, ldc = n + pad;
	const int a_h = mix & 1, b_h = !!(mix & 2), c_h = !!(mix & 4);
	const size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)k * ldb, nc = (size_t)m * ldc;
	float *a = test_frand(na, -1, 1), *b = test_frand(nb, -1, 1), *c0 = test_frand(nc, -1, 1);
	float *want = malloc(nc * sizeof *want), *got = malloc(nc * sizeof *got);
	uint16_t *a16 = to_bf16(a, na), *b16 = to_bf16(b, nb), *c16 = to_bf16(c0, nc);
	uint16_t *g16 = malloc(nc * sizeof *g16);
	const int saved = omp_get_max_threads();
	for (int nt = 1; nt <= 3; nt++) {
		omp_set_num_threads(nt);
		memcpy(want, c0, nc * sizeof *want);
		memcpy(got, c0, nc * sizeof *got);
		memcpy(g16, c16, nc * sizeof *g16);
		cxr_gemm_bf16(ta, 0, m, n, k, a, lda, b, ldb, beta, want, ldc);
		cxr_gemm_bf16_act(ta, 0, m, n, k, a_h ? (const void *)a16 : a, a_h, lda,
				  b_h ? (const void *)b16 : b, b_h, ldb, beta,
				  c_h ? (void *)g16 : got, c_h, ldc);
		for (size_t i = 0; i < nc; i++) {
			float w = c_h && (int)(i % ldc) < n ? rb(want[i]) : want[i];
			float g = c_h ? cxr_bf16_float(g16[i]) : got[i];
			ck_assert_msg(!memcmp(&g, &w, sizeof g),
				      "gemm_bf16_act mix %d ta%d %dx%dx%d, %d threads: [%zu] %a, want %a",
				      mix, ta, m, n, k, nt, i, g, w);
		}
	}
	omp_set_num_threads(saved);
	free(a), free(b), free(c0), free(want), free(got), free(a16), free(b16), free(c16), free(g16);
}

START_TEST(gemm_bf16_act)
{
	for (int mix = 1; mix < 8; mix++)
		for (int ta = 0; ta < 2; ta++) {
			check_gemm_bf16_act(ta, 1, 1, 1, 0, 0, mix);
			check_gemm_bf16_act(ta, 13, 33, 17, 1, 2, mix);   /* odd k */
			check_gemm_bf16_act(ta, 200, 70, 400, 0, 1, mix); /* block edges, odd stride */
			check_gemm_bf16_act(ta, 30, 100, 1601, 1, 3, mix); /* k past one block, odd */
			check_gemm_bf16_act(ta, 20, 30, 7000, 1, 0, mix); /* long k: split (fp32 C) */
			check_gemm_bf16_act(ta, 64, 48, 256, 0, 64, mix); /* rows at twice their length */
		}
	/* a weight gradient's shape, from a bf16 gradient and a bf16 input */
	check_gemm_bf16_act(1, 64, 576, 4099, 0, 0, 3);
}
END_TEST

/* ---- layers: every bf16 output element within the bf16 bound of the
 * exact (double, unrounded operands) result, its reduction length the
 * number of terms summed into it ---- */

/* |got - exact| <= (2u + u^2) mag + g(k) (1 + 2u + u^2) mag, where mag is
 * the sum of |terms| (and of |anything added|). */
static double bf16_bound(double mag, long k)
{
	return (2 * U + U * U) * mag + gamma_k(k) * (1 + 2 * U + U * U) * mag;
}

/* Compares got (n) with exact and mag; returns the worst error/bound. */
static double check_bound(const char *what, const float *got, const double *exact,
			  const double *mag, size_t n, long k)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(got[i] - exact[i]), b = bf16_bound(mag[i], k);
		ck_assert_msg(e <= b, "%s [%zu]: bf16 %.9g, exact %.9g: error %.3g over the bound %.3g "
			      "(k %ld)", what, i, got[i], exact[i], e, b, k);
		if (b > 0)
			worst = fmax(worst, e / b);
	}
	return worst;
}

static void check_conv(int n, int h, int w, int c, int o, int k, int st, int pad, size_t chunk)
{
	conv_dims d;
	conv_dims_set(&d, n, h, w, c, o, k, st, pad);
	d.prec = CXR_PREC_BF16;
	conv_set_chunk(chunk);
	size_t nx = (size_t)n * h * w * c, nw = (size_t)o * k * k * c;
	size_t ny = (size_t)n * d.oh * d.ow * o;
	float *x = test_frand(nx, -1, 1), *wt = test_frand(nw, -1, 1), *dy = test_frand(ny, -1, 1);
	float *bias = test_frand(o, -0.5, 0.5);
	float *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
	float *ws = calloc(conv_workspace(&d) + 1, sizeof *ws);
	double *ry = calloc(ny, sizeof *ry), *my = calloc(ny, sizeof *my);
	double *rx = calloc(nx, sizeof *rx), *mx = calloc(nx, sizeof *mx);
	double *rw = calloc(nw, sizeof *rw), *mw = calloc(nw, sizeof *mw);
	for (int b = 0; b < n; b++)
		for (int oy = 0; oy < d.oh; oy++)
			for (int ox = 0; ox < d.ow; ox++)
				for (int j = 0; j < o; j++) {
					size_t yi = ((size_t)(b * d.oh + oy) * d.ow + ox) * o + j;
					ry[yi] = bias[j], my[yi] = fabs(bias[j]);
					for (int ky = 0; ky < k; ky++)
						for (int kx = 0; kx < k; kx++) {
							int iy = oy * st - pad + ky, ix = ox * st - pad + kx;
							if (iy < 0 || iy >= h || ix < 0 || ix >= w)
								continue;
							for (int i = 0; i < c; i++) {
								size_t xi = ((size_t)(b * h + iy) * w + ix) * c + i;
								size_t wi = (((size_t)j * k + ky) * k + kx) * c + i;
								double xv = x[xi], wv = wt[wi], g = dy[yi];
								ry[yi] += xv * wv, my[yi] += fabs(xv * wv);
								rx[xi] += g * wv, mx[xi] += fabs(g * wv);
								rw[wi] += g * xv, mw[wi] += fabs(g * xv);
							}
						}
				}
	const long K = (long)k * k * c, M = (long)n * d.oh * d.ow;
	char what[96];
	snprintf(what, sizeof what, "conv %dx%d/%d c%d o%d forward", k, k, st, c, o);
	conv_forward(y, x, wt, bias, &d, ws, 0);
	check_bound(what, y, ry, my, ny, K + 1);
	conv_backward(dx, dw, dy, x, wt, &d, ws, 0);
	/* din: o terms per tap, up to k*k taps added by col2im */
	snprintf(what, sizeof what, "conv %dx%d/%d c%d o%d din", k, k, st, c, o);
	check_bound(what, dx, rx, mx, nx, (long)o * k * k + k * k);
	/* dweight: n*oh*ow terms, in chunks and per-thread parts */
	snprintf(what, sizeof what, "conv %dx%d/%d c%d o%d dweight", k, k, st, c, o);
	check_bound(what, dw, rw, mw, nw, M + 64);
	conv_set_chunk(0);
	free(x), free(wt), free(dy), free(bias), free(y), free(dx), free(dw), free(ws);
	free(ry), free(my), free(rx), free(mx), free(rw), free(mw);
}

/* conv_forward_packed with activations in bf16 (CONV_IN_BF16 /
 * CONV_OUT_BF16) against the fp32-activation call on the values the bf16
 * ones hold: the same bits, rounded once; the 1x1 reads its input in
 * place, the others through a bf16 im2col. */
static void check_conv_act(int n, int h, int w, int c, int o, int k, int st, int pad)
{
	conv_dims d;
	conv_dims_set(&d, n, h, w, c, o, k, st, pad);
	d.prec = CXR_PREC_BF16;
	const size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * o;
	float *x = test_frand(nx, -1, 1), *wt = test_frand((size_t)o * k * k * c, -1, 1);
	float *bias = test_frand(o, -0.5, 0.5), *y0 = test_frand(ny, -1, 1);
	float *ws = calloc(conv_workspace(&d) + 1, sizeof *ws), *y = malloc(ny * sizeof *y);
	float *packed = aligned_alloc(64, conv_packed_size(&d) * sizeof(float));
	uint16_t *x16 = to_bf16(x, nx), *y16 = malloc(ny * 2);
	conv_pack_weights(packed, wt, &d);
	/* backward from a bf16 input: its weight gradient by packing from
	 * bf16 (through a bf16 im2col where there is one) */
	float *dy = test_frand(ny, -1, 1), *dx[2], *dw[2];
	for (int v = 0; v < 2; v++) {
		dx[v] = malloc(nx * sizeof(float)), dw[v] = test_frand((size_t)o * k * k * c, -1, 1);
		if (v)
			memcpy(dw[1], dw[0], (size_t)o * k * k * c * sizeof(float));
	}
	const size_t nw = (size_t)o * k * k * c;
	float *dw0 = malloc(nw * sizeof *dw0);
	memcpy(dw0, dw[0], nw * sizeof *dw0);
	conv_backward(dx[0], dw[0], dy, x, wt, &d, ws, 0);
	conv_backward_act(dx[1], dw[1], dy, x16, wt, &d, ws, CONV_IN_BF16);
	ck_assert_msg(!memcmp(dx[0], dx[1], nx * sizeof(float)) &&
		      !memcmp(dw[0], dw[1], nw * sizeof(float)),
		      "conv %dx%d/%d c%d o%d backward from a bf16 input differs", k, k, st, c, o);
	/* ... and from a bf16 gradient, its rows at fp32 rows' stride (the
	 * products rounded dy so anyway) */
	float *dyw = malloc(ny * sizeof *dyw);
	for (size_t i = 0; i < ny; i++) {
		uint16_t h = cxr_bf16_round(dy[i]);
		memcpy((char *)(dyw + i / o * o) + 2 * (i % o), &h, 2);
	}
	memcpy(dw[1], dw0, nw * sizeof *dw0);
	conv_backward_act(dx[1], dw[1], dyw, x16, wt, &d, ws, CONV_IN_BF16 | CONV_DOUT_BF16);
	ck_assert_msg(!memcmp(dx[0], dx[1], nx * sizeof(float)) &&
		      !memcmp(dw[0], dw[1], nw * sizeof(float)),
		      "conv %dx%d/%d c%d o%d backward from a bf16 gradient differs", k, k, st, c, o);
	if (k == 1) {
		/* a block's 1x1s in bf16 training: dout bf16 as it lies (rows
		 * of o), din bf16, written (the shortcut's projection) or added
		 * to (conv1): the fp32 results rounded once */
		uint16_t *dyd = to_bf16(dy, ny), *dx16 = malloc(nx * 2);
		float *base = test_frand(nx, -1, 1);
		for (int acc = 0; acc < 2; acc++) {
			for (size_t i = 0; i < nx; i++)
				dx16[i] = cxr_bf16_round(base[i]), dx[0][i] = cxr_bf16_float(dx16[i]);
			memcpy(dw[1], dw0, nw * sizeof *dw0);
			conv_backward_act(dx[0], dw[0], dy, x16, wt, &d, ws,
					  CONV_IN_BF16 | (acc ? CONV_ACCUM : 0));
			memcpy(dw[0], dw0, nw * sizeof *dw0);
			conv_backward_act(dx16, dw[1], dyd, x16, wt, &d, ws,
					  CONV_IN_BF16 | CONV_DOUT_BF16 | CONV_DOUT_DENSE | CONV_DIN_BF16 |
						  (acc ? CONV_ACCUM : 0));
			for (size_t i = 0; i < nx; i++)
				ck_assert_msg(dx16[i] == cxr_bf16_round(dx[0][i]),
					      "conv 1x1/%d c%d o%d, bf16 din (acc %d) from a bf16 dout: "
					      "[%zu] %a, want %a", st, c, o, acc, i,
					      cxr_bf16_float(dx16[i]), rb(dx[0][i]));
		}
		free(dyd), free(dx16), free(base);
	}
	free(dy), free(dyw), free(dw0);
	for (int v = 0; v < 2; v++)
		free(dx[v]), free(dw[v]);
	for (size_t i = 0; i < ny; i++)
		y0[i] = rb(y0[i]);
	for (int flags = 0; flags < 4; flags++) {
		memcpy(y, y0, ny * sizeof *y);
		conv_forward_packed(y, x, packed, bias, &d, ws, flags);
		for (int mix = 1; mix < 4; mix++) {
			const int in16 = mix & 1, out16 = mix >> 1;
			float *yf = malloc(ny * sizeof *yf);
			memcpy(yf, y0, ny * sizeof *yf);
			for (size_t i = 0; i < ny; i++)
				y16[i] = cxr_bf16_round(y0[i]);
			conv_forward_packed(out16 ? (void *)y16 : yf, in16 ? (const void *)x16 : x, packed,
					    bias, &d, ws,
					    flags | (in16 ? CONV_IN_BF16 : 0) | (out16 ? CONV_OUT_BF16 : 0));
			for (size_t i = 0; i < ny; i++) {
				float got = out16 ? cxr_bf16_float(y16[i]) : yf[i];
				float want = out16 ? rb(y[i]) : y[i];
				ck_assert_msg(!memcmp(&got, &want, sizeof got),
					      "conv %dx%d/%d c%d o%d flags %d, input %s, output %s: [%zu] %a, "
					      "want %a", k, k, st, c, o, flags, in16 ? "bf16" : "fp32",
					      out16 ? "bf16" : "fp32", i, got, want);
			}
			free(yf);
		}
	}
	free(x), free(wt), free(bias), free(y0), free(ws), free(y), free(packed), free(x16), free(y16);
}

/* conv_forward_packed_stats: each output channel's sum and sum of squares
 * of the bf16 values the product stores (batch norm's statistics, added
 * up as it stores them) against double sums of the stored output: within
 * float's rounding over a register block's 14 rows, i.e. 14 * 2^-24 of
 * the sum of the magnitudes (the block's float sum; its addition into
 * double is exact to 2^-53); at 1 to 3 threads, in one product and in
 * im2col chunks, with bias and ReLU (the values after them). */
static void check_conv_stats(int n, int h, int w, int c, int o, int k, int st, int pad,
			     size_t chunk)
{
	conv_dims d;
	conv_dims_set(&d, n, h, w, c, o, k, st, pad);
	d.prec = CXR_PREC_BF16;
	const size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * o;
	const size_t rows = ny / o;
	float *x = test_frand(nx, -1, 1), *wt = test_frand((size_t)o * k * k * c, -1, 1);
	float *bias = test_frand(o, -0.5, 0.5);
	conv_set_chunk(chunk);
	float *ws = calloc(conv_workspace(&d) + 1, sizeof *ws);
	float *packed = aligned_alloc(64, conv_packed_size(&d) * sizeof(float));
	uint16_t *x16 = to_bf16(x, nx), *y16 = malloc(ny * 2);
	float *y = malloc(ny * sizeof *y);
	conv_pack_weights(packed, wt, &d);
	const int saved = omp_get_max_threads();
	for (int nt = 1; nt <= 3; nt++)
		for (int relu = 0; relu < 2; relu++) {
			omp_set_num_threads(nt);
			double *stats = calloc((size_t)nt * 2 * o, sizeof *stats);
			conv_forward_packed_stats(y16, x16, packed, bias, &d, ws,
						  CONV_IN_BF16 | CONV_OUT_BF16 | (relu ? CONV_RELU : 0),
						  stats);
			for (size_t i = 0; i < ny; i++)
				y[i] = cxr_bf16_float(y16[i]);
			double got[2], want[2];
			const int j = test_channel_sums(stats, nt, y, rows, o, 14 * ldexp(1, -24), got,
							want);
			ck_assert_msg(j < 0,
				      "conv %dx%d/%d c%d o%d, %d threads, relu %d: channel %d's "
				      "sums %.9g %.9g, want %.9g %.9g", k, k, st, c, o, nt, relu, j,
				      got[0], got[1], want[0], want[1]);
			free(stats);
		}
	omp_set_num_threads(saved);
	conv_set_chunk(0);
	free(x), free(wt), free(bias), free(ws), free(packed), free(x16), free(y16), free(y);
}

/* The pools' bf16 forms: rounding keeps order, so the max of the rounded
 * values is the rounded max, bit for bit. */
static void check_pools_act(void)
{
	const int n = 2, h = 13, w = 10, c = 40, hw = h * w;
	const int oh = pool_out_size(h, 3, 2, 1), ow = pool_out_size(w, 3, 2, 1);
	const size_t nx = (size_t)n * hw * c, ny = (size_t)n * oh * ow * c;
	float *x = test_frand(nx, -1, 1), *y = malloc(ny * sizeof *y);
	uint16_t *y16 = malloc(ny * 2);
	int32_t *ix = malloc(ny * sizeof *ix), *ix16 = malloc(ny * sizeof *ix16);
	maxpool_forward(y, ix, x, n, h, w, c, 3, 2, 1);
	maxpool_forward_bf16(y16, NULL, x, n, h, w, c, 3, 2, 1);
	for (size_t i = 0; i < ny; i++)
		ck_assert_msg(y16[i] == cxr_bf16_round(y[i]), "maxpool_forward_bf16 [%zu]", i);
	/* with the winners for backward (training's stem): fp32's */
	memset(y16, 0, ny * 2);
	maxpool_forward_bf16(y16, ix16, x, n, h, w, c, 3, 2, 1);
	for (size_t i = 0; i < ny; i++)
		ck_assert_msg(y16[i] == cxr_bf16_round(y[i]) && ix16[i] == ix[i],
			      "maxpool_forward_bf16 with winners [%zu]", i);
	free(ix16);
	float g[2 * 40], g16[2 * 40];
	int32_t gi[2 * 40], gi16[2 * 40];
	uint16_t *x16 = to_bf16(x, nx);
	for (int j = 0; j < c; j++) /* a tie: the first maximum wins */
		x16[5 * c + j] = x16[9 * c + j] = 0x4100, x[5 * c + j] = x[9 * c + j] = 8.0f;
	gmaxpool_forward(g, gi, x, n, hw, c);
	gmaxpool_forward_bf16(g16, NULL, x16, n, hw, c);
	ck_assert(!memcmp(g, g16, sizeof g));
	gmaxpool_forward_bf16(g16, gi16, x16, n, hw, c);
	ck_assert(!memcmp(g, g16, sizeof g) && !memcmp(gi, gi16, sizeof gi));
	ck_assert(gi16[0] == 5);
	/* backward from bf16 (the stem's pool in bf16 training): the fp32
	 * sums of the same values; the head's into a bf16 din, rounded once */
	uint16_t *dy16 = malloc(ny * 2);
	float *dyf = malloc(ny * sizeof *dyf), *dxa = calloc(nx, sizeof *dxa);
	float *dxb = calloc(nx, sizeof *dxb);
	for (size_t i = 0; i < ny; i++)
		dy16[i] = cxr_bf16_round(y[i] - 0.25f), dyf[i] = cxr_bf16_float(dy16[i]);
	maxpool_backward(dxa, dyf, ix, n, h, w, c, oh, ow);
	maxpool_backward_bf16(dxb, dy16, ix, n, h, w, c, oh, ow);
	ck_assert_msg(!memcmp(dxa, dxb, nx * sizeof *dxa), "maxpool_backward_bf16");
	uint16_t *din16 = to_bf16(x, nx);
	for (size_t i = 0; i < nx; i++)
		dxa[i] = cxr_bf16_float(din16[i]);
	gmaxpool_backward(dxa, g, gi, n, hw, c);
	gmaxpool_backward_bf16(din16, g, gi, n, hw, c);
	for (size_t i = 0; i < nx; i++)
		ck_assert_msg(din16[i] == cxr_bf16_round(dxa[i]), "gmaxpool_backward_bf16 [%zu]", i);
	free(dy16), free(dyf), free(dxa), free(dxb), free(din16), free(ix);
	free(x), free(y), free(y16), free(x16);
}

static void same_bits(const char *what, const float *got, const float *want, size_t n, int m,
		      int c, int nt)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!memcmp(got + i, want + i, sizeof *got),
			      "%s, %d rows of %d, %d threads: [%zu] %a, want %a", what, m, c, nt, i,
			      got[i], want[i]);
}

/* same_bits for got, rows of c bf16 values ld values apart (2c: a bf16
 * gradient over the fp32 one; c: over a bf16 one), against want (m, c)
 * rounded. */
static void same_bits16(const char *what, const void *got, size_t ld, const float *want, int m,
			int c, int nt)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < c; j++) {
			uint16_t h;
			memcpy(&h, (const uint16_t *)got + i * ld + j, 2);
			float g = cxr_bf16_float(h), w = rb(want[(size_t)i * c + j]);
			same_bits(what, &g, &w, 1, m, c, nt);
		}
}

/* Batch norm's _act forms on bf16 tensors against its fp32 forms on fp32
 * tensors holding their values: the same bits (a bf16 output the fp32 one
 * rounded once), statistics included; backward with the mask from a bf16
 * output or from the input, the residual's gradient, din written over
 * dout, dout in bf16, din in bf16 (rows at fp32 rows' stride). */
static void check_bn_act(int m, int c, int nt)
{
	const size_t n = (size_t)m * c;
	float *x = test_frand(n, -2, 3), *res = test_frand(n, -1, 1), *dout = test_frand(n, -1, 1);
	float *g = test_frand(c, 0.5, 1.5), *b = test_frand(c, -0.5, 0.5);
	uint16_t *x16 = to_bf16(x, n), *res16 = to_bf16(res, n), *y16 = malloc(n * 2);
	float *y = malloc(n * sizeof *y), *yw = malloc(n * sizeof *yw), *t = malloc(n * sizeof *t);
	float *st = malloc(8 * (size_t)c * sizeof *st), *mean = st, *istd = st + c, *rm = st + 2 * c,
	      *rv = st + 3 * c, *mean2 = st + 4 * c, *istd2 = st + 5 * c, *rm2 = st + 6 * c,
	      *rv2 = st + 7 * c;
	for (int j = 0; j < c; j++)
		rm[j] = rm2[j] = 0, rv[j] = rv2[j] = 1;
	omp_set_num_threads(nt);
	for (int relu = 0; relu < 2; relu++) {
		/* forward: fp32 out, then bf16 out with a bf16 residual */
		bn_forward_train(y, mean, istd, rm, rv, x, g, b, NULL, relu, m, c, BN_MOMENTUM, BN_EPS);
		bn_forward_train_act(yw, mean2, istd2, rm2, rv2, NULL, NULL, x16, g, b, NULL, relu, m, c,
				     BN_MOMENTUM, BN_EPS, BN_IN_BF16);
		same_bits("bn forward, bf16 input", yw, y, n, m, c, nt);
		same_bits("bn statistics, bf16 input", mean2, mean, 4 * (size_t)c, m, c, nt);
		bn_forward_replay_act(yw, x16, mean, istd, g, b, relu, m, c, BN_IN_BF16);
		same_bits("bn replay, bf16 input", yw, y, n, m, c, nt);
		bn_forward_replay_act(y16, x16, mean, istd, g, b, relu, m, c, BN_IN_BF16 | BN_OUT_BF16);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(y16[i] == cxr_bf16_round(y[i]),
				      "bn replay, bf16 input and output, %d rows of %d: [%zu]", m, c, i);
		bn_forward_train(y, mean, istd, rm, rv, x, g, b, res, relu, m, c, BN_MOMENTUM, BN_EPS);
		memcpy(y16, res16, n * 2); /* in place on the residual, as the network does */
		bn_forward_train_act(y16, mean2, istd2, rm2, rv2, NULL, NULL, x16, g, b, y16, relu, m,
				     c, BN_MOMENTUM, BN_EPS, BN_IN_BF16 | BN_OUT_BF16 | BN_RES_BF16);
		for (size_t i = 0; i < n; i++)
			yw[i] = cxr_bf16_float(y16[i]), y[i] = rb(y[i]);
		same_bits("bn forward, bf16 input, residual and output", yw, y, n, m, c, nt);
		/* backward, the mask from the bf16 output (y holds its values) */
		for (int fused = 0; fused < 2; fused++) {
			float *dx = malloc(n * sizeof *dx), *dr = fused ? malloc(n * sizeof *dr) : NULL;
			float dgb[2][2 * 512] = {{0}};
			if (fused && relu)
				bn_backward_res(dx, dr, dgb[0], dgb[0] + c, dout, y, x, mean, istd, g, b, 1,
						m, c, 0);
			else
				bn_backward(dx, dgb[0], dgb[0] + c, dout, y, x, mean, istd, g, b, relu, m, c,
					    0);
			memcpy(t, dout, n * sizeof *t); /* din over dout */
			bn_backward_act(t, fused && relu ? yw : NULL, dgb[1], dgb[1] + c, t, y16, x16,
					mean, istd, g, b, relu, m, c, 0, BN_IN_BF16 | BN_OUT_BF16);
			same_bits("bn backward, bf16 input and output, din over dout", t, dx, n, m, c, nt);
			same_bits("bn backward's dgamma and dbeta", dgb[1], dgb[0], 2 * (size_t)c, m, c, nt);
			if (fused && relu)
				same_bits("bn backward's residual gradient", yw, dr, n, m, c, nt);
			/* din in bf16 over dout, each row in the first half of
			 * its fp32 row: dx rounded */
			memcpy(t, dout, n * sizeof *t);
			bn_backward_act(t, fused && relu ? yw : NULL, dgb[1], dgb[1] + c, t, y16, x16,
					mean, istd, g, b, relu, m, c, 0,
					BN_IN_BF16 | BN_OUT_BF16 | BN_DIN_BF16);
			same_bits16("bn backward, bf16 din over dout", t, 2 * (size_t)c, dx, m, c, nt);
			free(dx), free(dr);
		}
		/* dout in bf16, the mask from the input (no output given, as a
		 * block's first two units), din fp32, then bf16 rows at fp32
		 * rows' stride */
		uint16_t *d16 = malloc(n * 2);
		float *dr32 = malloc(n * sizeof *dr32), *dx = malloc(n * sizeof *dx);
		for (size_t i = 0; i < n; i++)
			d16[i] = cxr_bf16_round(dout[i]), dr32[i] = cxr_bf16_float(d16[i]);
		float dgb[2][2 * 512] = {{0}};
		bn_backward(dx, dgb[0], dgb[0] + c, dr32, NULL, x, mean, istd, g, b, relu, m, c, 0);
		bn_backward_act(t, NULL, dgb[1], dgb[1] + c, d16, NULL, x16, mean, istd, g, b, relu, m,
				c, 0, BN_IN_BF16 | BN_DOUT_BF16);
		same_bits("bn backward, bf16 dout", t, dx, n, m, c, nt);
		same_bits("bn backward's dgamma and dbeta, bf16 dout", dgb[1], dgb[0], 2 * (size_t)c,
			  m, c, nt);
		/* din in bf16 from a bf16 dout lies as dout does, over it */
		uint16_t *t16 = malloc(n * 2), *dres16 = malloc(n * 2);
		memcpy(t16, d16, n * 2);
		bn_backward_act(t16, NULL, dgb[1], dgb[1] + c, t16, NULL, x16, mean, istd, g, b, relu,
				m, c, 0, BN_IN_BF16 | BN_DOUT_BF16 | BN_DIN_BF16);
		same_bits16("bn backward, bf16 din over a bf16 dout", t16, c, dx, m, c, nt);
		if (relu) {
			/* a block's conv3: the mask from the bf16 output, the
			 * residual's gradient bf16 as dout is (its values dout's,
			 * exactly), din over dout */
			float *dr = malloc(n * sizeof *dr), *drw = malloc(n * sizeof *drw);
			float dgr[2][2 * 512] = {{0}};
			bn_backward_res(dx, dr, dgr[0], dgr[0] + c, dr32, y, x, mean, istd, g, b, 1, m, c,
					0);
			memcpy(t16, d16, n * 2);
			bn_backward_act(t16, dres16, dgr[1], dgr[1] + c, t16, y16, x16, mean, istd, g, b,
					1, m, c, 0,
					BN_IN_BF16 | BN_OUT_BF16 | BN_DOUT_BF16 | BN_DIN_BF16);
			same_bits16("bn backward, residual, bf16 din over a bf16 dout", t16, c, dx, m, c,
				    nt);
			same_bits("bn backward's dgamma and dbeta, residual, bf16 dout", dgr[1], dgr[0],
				  2 * (size_t)c, m, c, nt);
			for (size_t i = 0; i < n; i++)
				drw[i] = cxr_bf16_float(dres16[i]);
			same_bits("bn backward's bf16 residual gradient", drw, dr, n, m, c, nt);
			free(dr), free(drw);
		}
		free(d16), free(dr32), free(dx), free(t16), free(dres16);
	}
	free(x), free(res), free(dout), free(g), free(b), free(x16), free(res16), free(y16);
	free(y), free(yw), free(t), free(st);
}

START_TEST(bn_act)
{
	const int saved = omp_get_max_threads();
	for (int nt = 1; nt <= 3; nt++) {
		check_bn_act(1, 64, nt);
		check_bn_act(37, 40, nt);   /* rows past a block of 16, channels past a vector */
		check_bn_act(100, 33, nt);
		check_bn_act(1000, 256, nt);
	}
	omp_set_num_threads(saved);
}
END_TEST

START_TEST(activations_bf16)
{
	check_conv_act(2, 9, 7, 64, 40, 1, 1, 0);   /* 1x1: read in place */
	check_conv_act(2, 5, 3, 17, 33, 1, 1, 0);   /* odd channels: copied */
	check_conv_act(2, 15, 13, 40, 33, 1, 2, 0); /* 1x1 stride 2: im2col */
	check_conv_act(2, 12, 11, 24, 20, 3, 1, 1); /* 3x3 by im2col */
	check_conv_act(3, 12, 11, 90, 36, 3, 2, 1); /* 3x3 stride 2, k = 810 past a block */
	check_pools_act();
	check_conv_stats(2, 9, 7, 64, 40, 1, 1, 0, 0);     /* 1x1: one product */
	check_conv_stats(2, 12, 11, 24, 20, 3, 1, 1, 500); /* 3x3 in im2col chunks */
	check_conv_stats(2, 32, 29, 1, 64, 7, 2, 3, 0);    /* the stem, odd k */
}
END_TEST

START_TEST(conv)
{
	check_conv(2, 16, 16, 64, 48, 1, 1, 0, 0);   /* 1x1: one product */
	check_conv(2, 15, 13, 40, 33, 1, 2, 0, 0);   /* 1x1 stride 2: im2col */
	check_conv(2, 12, 11, 24, 20, 3, 1, 1, 0);   /* 3x3 by im2col */
	check_conv(2, 12, 11, 24, 20, 3, 2, 1, 300); /* 3x3 stride 2, chunked */
	check_conv(2, 32, 29, 1, 16, 7, 2, 3, 0);    /* the stem */
	check_conv(1, 40, 40, 8, 8, 1, 1, 0, 0);     /* long k for the weight gradient */
}
END_TEST

START_TEST(dense)
{
	const int n = 6, in = 300, out = 37;
	float *x = test_frand((size_t)n * in, -1, 1), *wt = test_frand((size_t)out * in, -1, 1);
	float *b = test_frand(out, -1, 1), *dy = test_frand((size_t)n * out, -1, 1);
	float *y = calloc((size_t)n * out, sizeof *y), *dx = calloc((size_t)n * in, sizeof *dx);
	float *dw = calloc((size_t)out * in, sizeof *dw), *db = calloc(out, sizeof *db);
	double *ry = calloc((size_t)n * out, sizeof *ry), *my = calloc((size_t)n * out, sizeof *my);
	double *rx = calloc((size_t)n * in, sizeof *rx), *mx = calloc((size_t)n * in, sizeof *mx);
	double *rw = calloc((size_t)out * in, sizeof *rw), *mw = calloc((size_t)out * in, sizeof *mw);
	for (int r = 0; r < n; r++)
		for (int j = 0; j < out; j++) {
			size_t yi = (size_t)r * out + j;
			ry[yi] = b[j], my[yi] = fabs(b[j]);
			for (int i = 0; i < in; i++) {
				double xv = x[(size_t)r * in + i], wv = wt[(size_t)j * in + i], g = dy[yi];
				ry[yi] += xv * wv, my[yi] += fabs(xv * wv);
				rx[(size_t)r * in + i] += g * wv, mx[(size_t)r * in + i] += fabs(g * wv);
				rw[(size_t)j * in + i] += g * xv, mw[(size_t)j * in + i] += fabs(g * xv);
			}
		}
	dense_forward(CXR_PREC_BF16, y, x, wt, b, n, in, out);
	check_bound("dense forward", y, ry, my, (size_t)n * out, in + 1);
	dense_backward(CXR_PREC_BF16, dx, dw, db, dy, x, wt, n, in, out);
	check_bound("dense din", dx, rx, mx, (size_t)n * in, out + 1);
	check_bound("dense dweight", dw, rw, mw, (size_t)out * in, n + 1);
	free(x), free(wt), free(b), free(dy), free(y), free(dx), free(dw), free(db);
	free(ry), free(my), free(rx), free(mx), free(rw), free(mw);
}
END_TEST


/* ---- the whole network ----
 *
 * bf16 cannot be held to float32's bounds over 53 layers: what it costs
 * is measured and reported. Against the two PyTorch goldens (width 1/16,
 * randomised batch-norm statistics: ill-conditioned on purpose, PyTorch's
 * own bf16 autocast is 0.12 and 0.27 off in the logits and over 100% in
 * the median gradient there, bench/bf16_network.py) the logits, loss and
 * eval logits must stay within 0.5 normwise, which a wrong layout or a
 * lost term would not (those give errors of order 1). An untrained
 * network in eval mode (torchvision's init, width 1/4, 64x64, running
 * statistics of 20 batches) is no better conditioned: PyTorch's autocast
 * lands 0.1 to 0.2 normwise from its fp32 logits there; cxr's bf16 must
 * stay within 0.5 of cxr's fp32. Whether bf16 learns as fp32 does is
 * t-bf16's question (trained models, the demo's recipe). */

static void golden_bf16(const char *file, int wino)
{
	golden_tol loose = {0.5, 0.5, 1e9, 1, 1e9, 0.5};
	golden_report r;
	golden_precision = CXR_PREC_BF16;
	int rc = golden_run(test_data(file), wino, &loose, NULL, &r);
	golden_precision = CXR_PREC_FP32;
	ck_assert_msg(rc == 0, "%s: %s", file, cxr_errmsg());
	printf("bf16 vs PyTorch float32, %s (%s): logits %.3g, loss %.3g, eval %.3g (unfolded "
	       "%.3g), worst gradient %.3g (%s), running stats %.3g\n", file,
	       wino ? "Winograd" : "im2col", r.logits, r.loss, r.eval_logits, r.eval_unfolded, r.grad,
	       r.grad_name, r.stats);
	ck_assert_msg(r.failed == 0, "%s: %d comparisons out of the bf16 bounds", file, r.failed);
}

START_TEST(network_golden)
{
	golden_bf16("golden_w16_64.cxm", 1);
	golden_bf16("golden_w16_72x56.cxm", 1);
	golden_bf16("golden_w16_64.cxm", 0);
}
END_TEST

/* A torchvision network of width w on size x size images, for batches of
 * n, initialised from seed, its running statistics those of `batches`
 * training batches of uniform images (the same ones on every call), in
 * fp32. */
static cxr_resnet *warmed_net(double w, int size, int n, uint64_t seed, int batches)
{
	cxr_resnet_config cfg;
	cxr_resnet_default_config(&cfg);
	cfg.width_mult = w;
	cfg.height = cfg.width = size;
	cxr_resnet *net = cxr_resnet_create(&cfg, n);
	ck_assert(net);
	cxr_resnet_init(net, seed);
	test_lcg = 12345;
	for (int b = 0; b < batches; b++) {
		float *xb = test_frand((size_t)n * size * size, 0, 1);
		ck_assert(cxr_resnet_forward(net, xb, n, 1));
		free(xb);
	}
	return net;
}

START_TEST(network_fp32)
{
	const int n = 16;
	const size_t hw = (size_t)64 * 64;
	float *x = test_frand((size_t)n * hw, 0, 1), logits[2][16];
	for (int p = 0; p < 2; p++) {
		cxr_resnet *net = warmed_net(0.25, 64, n, 7, 20);
		ck_assert(cxr_resnet_set_precision(net, p ? CXR_PREC_BF16 : CXR_PREC_FP32) == 0);
		memcpy(logits[p], cxr_resnet_forward(net, x, n, 0), sizeof logits[p]);
		cxr_resnet_free(net);
	}
	double e = golden_err(logits[1], logits[0], n);
	printf("bf16 vs fp32 eval logits, width 1/4, 64x64, torchvision init: %.3g normwise\n", e);
	ck_assert_msg(e < 0.5, "bf16 eval logits %.3g from fp32's", e);
	free(x);
}
END_TEST

/* Inference at 128x128, where stage 1's 3x3s have 64 Winograd tiles an
 * image and run by Winograd with bf16 activations in and out: the logits
 * near fp32's, and an image's logit the same bits alone and in a batch of
 * three (two passes through the early stages, the second of one image,
 * then gathered as bf16). */
/* One training step in bf16 against fp32 on the same network and batch
 * (width 1/4, 128x128, batch 8: the first two stages' 3x3 layers by
 * Winograd writing bf16, the last two's by im2col and the bf16 product;
 * every convolution's and block's output kept in bf16), the same dropout
 * mask: logits and loss
 * within 0.5 normwise (a lost term or a wrong layout gives order 1). The
 * gradient of an untrained network is chaotic under any rounding (1.3
 * normwise from fp32's here, as with bf16 products on fp32 activations;
 * PyTorch's autocast is over 100% off in the median gradient of the
 * goldens): reported, and its norm held within a factor 2 of fp32's. */
START_TEST(network_bf16_training)
{
	const int n = 8;
	const size_t hw = (size_t)128 * 128;
	float *x = test_frand((size_t)n * hw, 0, 1), logits[2][8], loss[2];
	const float targets[8] = {0, 1, 1, 0, 1, 0, 0, 1};
	cxr_resnet *net = warmed_net(0.25, 128, n, 1, 3);
	const size_t np = cxr_resnet_num_params(net);
	const size_t nmask = (size_t)n * cxr_resnet_get_config(net)->head_hidden;
	float *grads[2], *mask = malloc(nmask * sizeof *mask);
	double norm[2] = {0, 0};
	for (size_t i = 0; i < nmask; i++)
		mask[i] = i % 5 ? 1.25f : 0.0f;
	for (int p = 0; p < 2; p++) {
		ck_assert(cxr_resnet_set_precision(net, p ? CXR_PREC_BF16 : CXR_PREC_FP32) == 0);
		cxr_resnet_set_bn_update(net, 0);
		cxr_resnet_zero_grads(net);
		ck_assert(cxr_resnet_set_dropout_mask(net, mask, n) == 0);
		const float *y = cxr_resnet_forward(net, x, n, 1);
		ck_assert(y);
		memcpy(logits[p], y, sizeof logits[p]);
		loss[p] = cxr_resnet_loss(net, targets);
		ck_assert(cxr_resnet_backward(net) == 0);
		grads[p] = malloc(np * sizeof(float));
		memcpy(grads[p], cxr_resnet_grads(net), np * sizeof(float));
		for (size_t i = 0; i < np; i++) {
			ck_assert_msg(isfinite(grads[p][i]), "gradient [%zu] %g", i, grads[p][i]);
			norm[p] += (double)grads[p][i] * grads[p][i];
		}
	}
	double el = golden_err(logits[1], logits[0], n), eloss = golden_err(&loss[1], &loss[0], 1);
	double eg = golden_err(grads[1], grads[0], np), ratio = sqrt(norm[1] / norm[0]);
	printf("bf16 vs fp32 training step, width 1/4, 128x128 (bf16 activations, Winograd in stages 1-2): "
	       "logits %.3g, loss %.3g normwise; gradient %.3g normwise, its norm %.3g times fp32's\n",
	       el, eloss, eg, ratio);
	ck_assert_msg(el < 0.5 && eloss < 0.5 && ratio > 0.5 && ratio < 2,
		      "bf16 training step from fp32's: logits %.3g, loss %.3g, gradient norm %.3g times",
		      el, eloss, ratio);
	cxr_resnet_free(net);
	free(x), free(mask), free(grads[0]), free(grads[1]);
}
END_TEST

START_TEST(network_bf16_winograd)
{
	const int n = 3;
	const size_t hw = (size_t)128 * 128;
	float *x = test_frand((size_t)n * hw, 0, 1), logits[2][3];
	cxr_resnet *net = warmed_net(0.125, 128, n, 11, 3);
	for (int p = 0; p < 2; p++) {
		ck_assert(cxr_resnet_set_precision(net, p ? CXR_PREC_BF16 : CXR_PREC_FP32) == 0);
		memcpy(logits[p], cxr_resnet_forward(net, x, n, 0), sizeof logits[p]);
	}
	double e = golden_err(logits[1], logits[0], n);
	printf("bf16 vs fp32 eval logits, width 1/8, 128x128 (Winograd on bf16 activations): %.3g "
	       "normwise\n", e);
	ck_assert_msg(e < 0.5, "bf16 eval logits %.3g from fp32's", e);
	const float *one = cxr_resnet_forward(net, x + 2 * hw, 1, 0);
	ck_assert(one);
	ck_assert_msg(!memcmp(one, &logits[1][2], sizeof *one),
		      "bf16 logit of image 3 alone %a, in a batch of 3 %a", one[0], logits[1][2]);
	cxr_resnet_free(net);
	free(x);
}
END_TEST

/* The proofs; with_bf16 0: only those that need no AVX512_BF16, the
 * rounding every bf16 store goes through and batch norm's passes over
 * bf16 tensors (plain C, no bf16 instructions). */
static Suite *suite(int with_bf16)
{
	Suite *s = suite_create(with_bf16 ? "bf16" : "bf16-portable");
	TCase *tc = tcase_create(with_bf16 ? "kernels" : "portable");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, rounding);
	tcase_add_test(tc, bn_act);
	if (with_bf16) {
		tcase_add_test(tc, gemm);
		tcase_add_test(tc, gemm_split);
		tcase_add_test(tc, gemm_act);
		tcase_add_test(tc, gemm_bf16_act);
		tcase_add_test(tc, activations_bf16);
		tcase_add_test(tc, network_bf16_winograd);
		tcase_add_test(tc, network_bf16_training);
		tcase_add_test(tc, conv);
		tcase_add_test(tc, dense);
		tcase_add_test(tc, network_golden);
		tcase_add_test(tc, network_fp32);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const int has = cxr_cpu_has_bf16();
	int rc = test_run_suite(suite(has));
	if (has || rc != EXIT_SUCCESS)
		return rc;
	printf("unsupported: this CPU lacks AVX512_BF16; the bf16 products' proofs did not "
	       "run (rounding and batch norm on bf16 tensors did)\n");
	return 78;
}
