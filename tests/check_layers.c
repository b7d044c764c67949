/* check_layers — every layer of lib/ against a naive double-precision
 * implementation: forward outputs compared directly, backward (all of
 * din, dweights, dbias) against central finite differences of the naive
 * forward, on tiny shapes. The scalar differentiated is L = sum(r * out)
 * with fixed random r, so dout = r. A finite difference whose two sides
 * see different ReLU masks or max-pool winners (a kink) is skipped. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "base/parallel.h"
#include "nn/gemm.h"
#include "nn/maxpool.h"
#include "nn/precision.h"
#include "gemm_split.h"
#include "testutil.h"

#define FWD_TOL 1e-5  /* float layer vs double reference, normwise */
#define BWD_TOL 1e-4  /* float gradient vs double finite difference */
#define FD_H 1e-5

static double *dup64(const float *p, size_t n)
{
	double *d = malloc((n ? n : 1) * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = p[i];
	return d;
}

static float *zeros(size_t n)
{
	return calloc(n ? n : 1, sizeof(float));
}

/* ||a - b|| / ||b|| (||a - b|| when b is zero) */
static double nerr(const float *a, const double *b, size_t n)
{
	double s = 0, t = 0;
	for (size_t i = 0; i < n; i++) {
		double d = a[i] - b[i];
		s += d * d, t += b[i] * b[i];
	}
	return t > 0 ? sqrt(s / t) : sqrt(s);
}

/* A naive forward in double: fills out, returns a signature of its
 * discrete choices (ReLU signs, max winners) for kink detection. */
typedef uint64_t (*ref_fn)(double *out, void *ctx);

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

/* Finite-difference gradient of L = sum(r * f()) w.r.t. every element of
 * x (n), which f reads through ctx; compares with g (n). Returns the
 * normwise error over the points that are not at a kink. */
static double fd_check(ref_fn f, void *ctx, double *x, size_t n, const double *r, size_t nout,
		       const float *g, const char *what)
{
	double *out = calloc(nout, sizeof *out), *fd = calloc(n, sizeof *fd);
	float *gk = calloc(n, sizeof *gk);
	size_t m = 0, skipped = 0;
	for (size_t i = 0; i < n; i++) {
		double x0 = x[i], lp = 0, lm = 0;
		uint64_t s0 = f(out, ctx);
		x[i] = x0 + FD_H;
		uint64_t sp = f(out, ctx);
		for (size_t k = 0; k < nout; k++)
			lp += r[k] * out[k];
		x[i] = x0 - FD_H;
		uint64_t sm = f(out, ctx);
		for (size_t k = 0; k < nout; k++)
			lm += r[k] * out[k];
		x[i] = x0;
		if (sp != s0 || sm != s0) {
			skipped++;
			continue;
		}
		fd[m] = (lp - lm) / (2 * FD_H);
		gk[m++] = g[i];
	}
	double e = nerr(gk, fd, m);
	ck_assert_msg(m > n / 2, "%s: %zu of %zu points at kinks", what, skipped, n);
	ck_assert_msg(e < BWD_TOL, "%s: gradient error %.3g vs finite differences", what, e);
	free(out), free(fd), free(gk);
	return e;
}

/* ---- convolution ---- */

typedef struct {
	conv_dims d;
	double *x, *w;
} conv_ctx;

static uint64_t conv_ref(double *out, void *vc)
{
	conv_ctx *c = vc;
	const conv_dims *d = &c->d;
	for (int n = 0; n < d->n; n++)
		for (int oy = 0; oy < d->oh; oy++)
			for (int ox = 0; ox < d->ow; ox++)
				for (int o = 0; o < d->o; o++) {
					double s = 0;
					for (int ky = 0; ky < d->kh; ky++)
						for (int kx = 0; kx < d->kw; kx++) {
							int iy = oy * d->stride - d->pad + ky;
							int ix = ox * d->stride - d->pad + kx;
							if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
								continue;
							for (int i = 0; i < d->c; i++)
								s += c->x[((size_t)(n * d->h + iy) * d->w + ix) * d->c + i] *
								     c->w[(((size_t)o * d->kh + ky) * d->kw + kx) * d->c + i];
						}
					out[((size_t)(n * d->oh + oy) * d->ow + ox) * d->o + o] = s;
				}
	return 0;
}

static void check_conv(int n, int h, int w, int c, int o, int k, int s, int p, size_t chunk)
{
	conv_ctx cx;
	conv_dims_set(&cx.d, n, h, w, c, o, k, s, p);
	conv_set_chunk(chunk);
	const conv_dims *d = &cx.d;
	size_t nx = (size_t)n * h * w * c, nw = (size_t)o * k * k * c;
	size_t ny = (size_t)n * d->oh * d->ow * o;
	float *x = test_frand(nx, -1, 1), *wt = test_frand(nw, -1, 1), *y = zeros(ny);
	float *ws = zeros(conv_workspace(d) + 1);
	cx.x = dup64(x, nx), cx.w = dup64(wt, nw);
	double *ref = malloc(ny * sizeof *ref);
	conv_ref(ref, &cx);

	conv_forward(y, x, wt, NULL, d, ws, 0);
	double e = nerr(y, ref, ny);
	ck_assert_msg(e < FWD_TOL, "conv %dx%d/%d c%d o%d forward error %.3g", k, k, s, c, o, e);

	/* epilogue: y = relu(conv + bias + y0) */
	float *bias = test_frand(o, -0.5, 0.5), *y0 = test_frand(ny, -1, 1);
	memcpy(y, y0, ny * sizeof *y);
	conv_forward(y, x, wt, bias, d, ws, CONV_ACCUM | CONV_RELU);
	double *ref2 = calloc(ny, sizeof *ref2); /* calloc: GCC cannot see the loop fills it */
	for (size_t i = 0; i < ny; i++) {
		double v = ref[i] + bias[i % o] + y0[i];
		ref2[i] = v > 0 ? v : 0;
	}
	e = nerr(y, ref2, ny);
	ck_assert_msg(e < FWD_TOL, "conv %dx%d/%d bias+accum+relu error %.3g", k, k, s, e);

	/* backward: gradients are added to what the buffers hold */
	float *r = test_frand(ny, -1, 1), *dx = test_frand(nx, -1, 1), *dw = test_frand(nw, -1, 1);
	float *dx0 = malloc(nx * sizeof *dx0), *dw0 = malloc(nw * sizeof *dw0);
	memcpy(dx0, dx, nx * sizeof *dx), memcpy(dw0, dw, nw * sizeof *dw);
	conv_backward(dx, dw, r, x, wt, d, ws, 1);
	for (size_t i = 0; i < nx; i++)
		dx[i] -= dx0[i];
	for (size_t i = 0; i < nw; i++)
		dw[i] -= dw0[i];
	double *r64 = dup64(r, ny);
	fd_check(conv_ref, &cx, cx.x, nx, r64, ny, dx, "conv din");
	fd_check(conv_ref, &cx, cx.w, nw, r64, ny, dw, "conv dweight");
	/* without din */
	memcpy(dw, dw0, nw * sizeof *dw);
	conv_backward(NULL, dw, r, x, wt, d, ws, 1);
	for (size_t i = 0; i < nw; i++)
		dw[i] -= dw0[i];
	fd_check(conv_ref, &cx, cx.w, nw, r64, ny, dw, "conv dweight (no din)");
	/* din overwritten (acc 0), whatever it held */
	for (size_t i = 0; i < nx; i++)
		dx[i] = NAN;
	conv_backward(dx, dw, r, x, wt, d, ws, 0);
	fd_check(conv_ref, &cx, cx.x, nx, r64, ny, dx, "conv din (overwritten)");
	conv_set_chunk(0);
	free(x), free(wt), free(y), free(ws), free(cx.x), free(cx.w), free(ref), free(ref2);
	free(bias), free(y0), free(r), free(dx), free(dw), free(dx0), free(dw0), free(r64);
}

START_TEST(conv_3x3)
{
	check_conv(2, 6, 5, 3, 4, 3, 1, 1, 0);
}
END_TEST

START_TEST(conv_3x3_stride2)
{
	check_conv(2, 7, 6, 3, 5, 3, 2, 1, 0);
	check_conv(1, 8, 8, 2, 3, 3, 2, 1, 0);
}
END_TEST

START_TEST(conv_7x7_stem)
{
	check_conv(2, 9, 11, 1, 4, 7, 2, 3, 0);
}
END_TEST

START_TEST(conv_1x1)
{
	check_conv(2, 4, 3, 5, 6, 1, 1, 0, 0);
	check_conv(2, 5, 5, 4, 3, 1, 2, 0, 0);
}
END_TEST

START_TEST(conv_chunked)
{
	/* chunks of one output row, and of rows straddling images */
	check_conv(3, 5, 4, 2, 3, 3, 1, 1, 1);
	check_conv(3, 7, 5, 2, 3, 3, 2, 1, 3 * 18 * 2 + 1);
	check_conv(2, 9, 7, 1, 2, 7, 2, 3, 2 * 4 * 49);
}
END_TEST

/* ---- the matrix product ---- */

static void check_gemm(int ta, int tb, int m, int n, int k, float beta, int pad)
{
	int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
	size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
	size_t nc = (size_t)m * ldc;
	float *a = test_frand(na, -1, 1), *b = test_frand(nb, -1, 1), *c0 = test_frand(nc, -1, 1);
	float *c = malloc(nc * sizeof *c);
	double *ref = malloc(nc * sizeof *ref);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldc; j++) {
			double s = beta ? c0[(size_t)i * ldc + j] : 0;
			if (j >= n) {
				ref[(size_t)i * ldc + j] = c0[(size_t)i * ldc + j];
				continue;
			}
			for (int p = 0; p < k; p++)
				s += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
				     (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
			ref[(size_t)i * ldc + j] = s;
		}
	static const char *const impls[] = {"blas", "avx512", "avx2"};
	for (int impl = 0; impl < 3; impl++) {
		if (cxr_gemm_use(impls[impl])) /* not on this CPU */
			continue;
		memcpy(c, c0, nc * sizeof *c);
		if (!beta)
			for (int i = 0; i < m; i++)
				for (int j = 0; j < n; j++)
					c[(size_t)i * ldc + j] = NAN; /* beta 0 must not read C */
		cxr_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
		double e = nerr(c, ref, nc);
		ck_assert_msg(e < 1e-6, "gemm %s ta%d tb%d %dx%dx%d beta %g: error %.3g",
			      cxr_gemm_impl(), ta, tb, m, n, k, beta, e);
		for (int i = 0; i < m; i++) /* the padding between rows is not touched */
			for (int j = n; j < ldc; j++)
				ck_assert(c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j]);
	}
	cxr_gemm_use(NULL);
	free(a), free(b), free(c0), free(c), free(ref);
}

START_TEST(gemm)
{
	for (int t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1;
		check_gemm(ta, tb, 1, 1, 1, 0, 0);
		check_gemm(ta, tb, 13, 33, 17, 1, 2);
		check_gemm(ta, tb, 200, 70, 400, 0, 1);  /* edges of every block */
		check_gemm(ta, tb, 30, 100, 785, 1, 3);
		check_gemm(ta, tb, 20, 30, 5000, 1, 0);   /* long k: split among threads */
		check_gemm(ta, tb, 5, 7, 0, 0, 0);
		/* OpenBLAS's share among 1 to 3 threads (gemm.c, gemm_blas): by
		 * rows, then by columns (C wider than tall) */
		for (int nt = 1; nt <= 3; nt++) {
			cxr_par_set_threads(nt);
			check_gemm(ta, tb, 301, 40, 700, 1, 2);
			check_gemm(ta, tb, 40, 301, 700, 0, 1);
		}
		cxr_par_set_threads(0);
	}
}
END_TEST

/* conv_forward_packed_stats in fp32 (training's products, which add
 * batch norm's statistics as they store): the output bit for bit that of
 * conv_forward_packed, and each channel's sum and sum of squares against
 * double sums of the stored output, within float's rounding over the rows
 * of a register block (at most 14, the AVX-512 kernel's; then double),
 * i.e. 14 * 2^-24 of the sum of the magnitudes; with each own kernel the
 * CPU runs (AVX2 adds the sums in registers, AVX-512 from the stored
 * block), 1 to 3 threads, in one product and in im2col chunks, with bias
 * and ReLU (the values after them). offset: added to the bias, a mean
 * that dwarfs the spread (the blocks sum differences from their first
 * row, and then the bound holds with room to spare). */
static void check_conv_stats(int n, int h, int w, int c, int o, int k, int st, int pad,
			     size_t chunk, float offset)
{
	conv_dims d;
	conv_dims_set(&d, n, h, w, c, o, k, st, pad);
	const size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * o;
	const size_t rows = ny / o;
	float *x = test_frand(nx, -1, 1), *wt = test_frand((size_t)o * k * k * c, -1, 1);
	float *bias = test_frand(o, -0.5, 0.5);
	for (int j = 0; j < o; j++)
		bias[j] += offset;
	float *y = malloc(ny * sizeof *y), *ref = malloc(ny * sizeof *ref);
	conv_set_chunk(chunk);
	float *ws = calloc(conv_workspace(&d) + 1, sizeof *ws);
	float *packed = aligned_alloc(64, conv_packed_size(&d) * sizeof(float));
	static const char *const own[] = {"avx512", "avx2"};
	const int saved = omp_get_max_threads();
	int kernels = 0;
	for (int g = 0; g < 2; g++) {
		if (cxr_gemm_use(own[g]))
			continue;
		kernels++;
		conv_pack_weights(packed, wt, &d);
		for (int nt = 1; nt <= 3; nt++)
			for (int relu = 0; relu < 2; relu++) {
				const int flags = relu ? CONV_RELU : 0;
				omp_set_num_threads(nt);
				double *stats = calloc((size_t)nt * 2 * o, sizeof *stats);
				conv_forward_packed(ref, x, packed, bias, &d, ws, flags);
				conv_forward_packed_stats(y, x, packed, bias, &d, ws, flags, stats);
				ck_assert_msg(!memcmp(y, ref, ny * sizeof *y),
					      "%s, conv %dx%d/%d: the output changed with its sums",
					      own[g], k, k, st);
				double got[2], want[2];
				const int j = test_channel_sums(stats, nt, y, rows, o, 14 * ldexp(1, -24),
								got, want);
				ck_assert_msg(j < 0,
					      "%s, conv %dx%d/%d c%d o%d, %d threads, relu %d: "
					      "channel %d's sums %.9g %.9g, want %.9g %.9g",
					      own[g], k, k, st, c, o, nt, relu, j, got[0], got[1], want[0],
					      want[1]);
				free(stats);
			}
	}
	ck_assert_msg(kernels > 0, "no own kernel runs here: the product's sums are untested");
	cxr_gemm_use(NULL);
	omp_set_num_threads(saved);
	conv_set_chunk(0);
	free(x), free(wt), free(bias), free(y), free(ref), free(ws), free(packed);
}

START_TEST(conv_stats)
{
	check_conv_stats(2, 9, 7, 64, 40, 1, 1, 0, 0, 0);      /* 1x1: one product, edge panels */
	check_conv_stats(3, 30, 20, 16, 48, 1, 1, 0, 0, 0);    /* row blocks past one MC */
	check_conv_stats(3, 30, 20, 16, 48, 1, 1, 0, 0, 30);   /* ... a large mean */
	check_conv_stats(2, 12, 11, 24, 20, 3, 1, 1, 500, 0);  /* 3x3 in im2col chunks */
	check_conv_stats(2, 16, 16, 8, 24, 3, 2, 1, 0, 0);     /* stride 2 */
	check_conv_stats(2, 72, 56, 1, 16, 7, 2, 3, 0, 0);     /* a stem */
}
END_TEST

/* each own kernel the CPU runs (AVX-512, AVX2: both on an AVX-512 CPU);
 * OpenBLAS's division is checked in gemm */
START_TEST(gemm_split)
{
	static const char *const own[] = {"avx512", "avx2"};
	for (int i = 0; i < 2; i++)
		if (!cxr_gemm_use(own[i]))
			gemm_split_check(CXR_PREC_FP32);
	cxr_gemm_use(NULL);
}
END_TEST

/* ---- batch norm ---- */

typedef struct {
	size_t m;
	int c, relu;
	double *x, *g, *b, *res;
} bn_ctx;

static uint64_t bn_ref(double *out, void *vc)
{
	bn_ctx *k = vc;
	uint64_t sig = 0;
	for (int j = 0; j < k->c; j++) {
		double mu = 0, var = 0;
		for (size_t i = 0; i < k->m; i++)
			mu += k->x[i * k->c + j];
		mu /= k->m;
		for (size_t i = 0; i < k->m; i++)
			var += (k->x[i * k->c + j] - mu) * (k->x[i * k->c + j] - mu);
		var /= k->m;
		for (size_t i = 0; i < k->m; i++) {
			size_t q = i * k->c + j;
			double v = (k->x[q] - mu) / sqrt(var + BN_EPS) * k->g[j] + k->b[j];
			if (k->res)
				v += k->res[q];
			if (k->relu) {
				sig = mix(sig, v > 0);
				v = v > 0 ? v : 0;
			}
			out[q] = v;
		}
	}
	return sig;
}

static void check_bn(size_t m, int c, int use_res, int relu)
{
	size_t n = m * c;
	float *x = test_frand(n, -2, 3), *g = test_frand(c, 0.5, 1.5), *b = test_frand(c, -0.5, 0.5);
	float *res = use_res ? test_frand(n, -1, 1) : NULL, *y = zeros(n);
	float *mean = zeros(c), *istd = zeros(c), *rm = test_frand(c, -1, 1), *rv = test_frand(c, 0.5, 2);
	float *rm0 = malloc(c * sizeof *rm0), *rv0 = malloc(c * sizeof *rv0);
	memcpy(rm0, rm, c * sizeof *rm), memcpy(rv0, rv, c * sizeof *rv);
	bn_ctx k = {m, c, relu, dup64(x, n), dup64(g, c), dup64(b, c), res ? dup64(res, n) : NULL};
	double *ref = malloc(n * sizeof *ref);
	bn_ref(ref, &k);
	bn_forward_train(y, mean, istd, rm, rv, x, g, b, res, relu, m, c, BN_MOMENTUM, BN_EPS);
	double e = nerr(y, ref, n);
	ck_assert_msg(e < FWD_TOL, "bn train forward error %.3g", e);

	/* running statistics: the unbiased variance, momentum 0.1 */
	double *erm = malloc(c * sizeof *erm), *erv = malloc(c * sizeof *erv);
	for (int j = 0; j < c; j++) {
		double mu = 0, var = 0;
		for (size_t i = 0; i < m; i++)
			mu += k.x[i * c + j];
		mu /= m;
		for (size_t i = 0; i < m; i++)
			var += (k.x[i * c + j] - mu) * (k.x[i * c + j] - mu);
		erm[j] = 0.9 * rm0[j] + 0.1 * mu;
		erv[j] = 0.9 * rv0[j] + 0.1 * var / (m - 1);
	}
	ck_assert_msg(nerr(rm, erm, c) < FWD_TOL, "running mean %.3g", nerr(rm, erm, c));
	ck_assert_msg(nerr(rv, erv, c) < FWD_TOL, "running var %.3g", nerr(rv, erv, c));

	/* the forward recomputed from what it saved, as the network's
	 * backward does: the same bits */
	if (!res) {
		float *y3 = test_frand(n, -1, 1);
		bn_forward_replay(y3, x, mean, istd, g, b, relu, m, c);
		ck_assert_msg(!memcmp(y3, y, n * sizeof *y), "bn replay differs from the forward");
		free(y3);
	}

	/* in place on the residual, as the network does */
	if (res) {
		float *y2 = malloc(n * sizeof *y2);
		memcpy(y2, res, n * sizeof *y2);
		bn_forward_train(y2, mean, istd, rm, rv, x, g, b, y2, relu, m, c, BN_MOMENTUM, BN_EPS);
		ck_assert_msg(nerr(y2, ref, n) < FWD_TOL, "bn in place error");
		free(y2);
	}

	float *r = test_frand(n, -1, 1), *dx = zeros(n), *dg = zeros(c), *db = zeros(c);
	for (size_t i = 0; i < n; i++)
		dx[i] = NAN; /* acc 0 must not read it */
	bn_backward(dx, dg, db, r, y, x, mean, istd, g, b, relu, m, c, 0);
	double *r64 = dup64(r, n);
	fd_check(bn_ref, &k, k.x, n, r64, n, dx, "bn din");
	if (relu && !res) {
		/* the ReLU mask recomputed from the input */
		float *dx3 = zeros(n), *dg3 = zeros(c), *db3 = zeros(c);
		bn_backward(dx3, dg3, db3, r, NULL, x, mean, istd, g, b, 1, m, c, 0);
		ck_assert(!memcmp(dx3, dx, n * sizeof *dx));
		double *dg64 = dup64(dg, c);
		ck_assert(nerr(dg3, dg64, c) < 1e-7);
		free(dx3), free(dg3), free(db3), free(dg64);
	}
	float *dx2 = test_frand(n, -1, 1), *dx20 = malloc(n * sizeof *dx20), *dg2 = zeros(c), *db2 = zeros(c);
	memcpy(dx20, dx2, n * sizeof *dx2);
	bn_backward(dx2, dg2, db2, r, y, x, mean, istd, g, b, relu, m, c, 1);
	for (size_t i = 0; i < n; i++)
		dx2[i] -= dx20[i];
	fd_check(bn_ref, &k, k.x, n, r64, n, dx2, "bn din (added)");
	free(dx2), free(dx20), free(dg2), free(db2);
	fd_check(bn_ref, &k, k.g, c, r64, n, dg, "bn dgamma");
	fd_check(bn_ref, &k, k.b, c, r64, n, db, "bn dbeta");
	if (res) {
		float *dres = zeros(n);
		if (relu)
			relu_backward(dres, r, y, n, 1);
		else
			memcpy(dres, r, n * sizeof *dres);
		fd_check(bn_ref, &k, k.res, n, r64, n, dres, "bn+residual dres");
		if (relu) {
			/* the same, fused: bn_backward's bits and the residual's */
			float *dx4 = zeros(n), *dr4 = test_frand(n, -1, 1), *dg4 = zeros(c);
			float *db4 = zeros(c);
			bn_backward_res(dx4, dr4, dg4, db4, r, y, x, mean, istd, g, b, 1, m, c, 0);
			ck_assert_msg(!memcmp(dx4, dx, n * sizeof *dx), "fused din differs");
			ck_assert_msg(!memcmp(dr4, dres, n * sizeof *dres), "fused dres differs");
			ck_assert(!memcmp(dg4, dg, c * sizeof *dg) && !memcmp(db4, db, c * sizeof *db));
			free(dx4), free(dr4), free(dg4), free(db4);
		}
		free(dres);
	}

	/* eval mode and its folded form */
	double *eref = malloc(n * sizeof *eref);
	for (size_t i = 0; i < m; i++)
		for (int j = 0; j < c; j++) {
			size_t q = i * c + j;
			double v = (k.x[q] - rm[j]) / sqrt((double)rv[j] + BN_EPS) * g[j] + b[j];
			if (res)
				v += res[q];
			eref[q] = relu && v < 0 ? 0 : v;
		}
	bn_forward_eval(y, x, g, b, rm, rv, res, relu, m, c, BN_EPS);
	ck_assert_msg(nerr(y, eref, n) < FWD_TOL, "bn eval error %.3g", nerr(y, eref, n));
	float *sc = zeros(c), *sh = zeros(c);
	bn_fold(sc, sh, g, b, rm, rv, c, BN_EPS);
	for (size_t i = 0; i < m; i++)
		for (int j = 0; j < c; j++) {
			size_t q = i * c + j;
			float v = x[q] * sc[j] + sh[j] + (res ? res[q] : 0);
			y[q] = relu && v < 0 ? 0 : v;
		}
	ck_assert_msg(nerr(y, eref, n) < FWD_TOL, "bn fold error %.3g", nerr(y, eref, n));

	free(x), free(g), free(b), free(res), free(y), free(mean), free(istd), free(rm), free(rv);
	free(rm0), free(rv0), free(k.x), free(k.g), free(k.b), free(k.res), free(ref), free(erm);
	free(erv), free(r), free(dx), free(dg), free(db), free(r64), free(eref), free(sc), free(sh);
}

START_TEST(bn_plain)
{
	check_bn(12, 5, 0, 0);
}
END_TEST

START_TEST(bn_relu)
{
	check_bn(20, 3, 0, 1);
}
END_TEST

START_TEST(bn_residual_relu)
{
	check_bn(18, 4, 1, 1);
	check_bn(9, 2, 1, 0);
}
END_TEST

/* ---- pooling ---- */

typedef struct {
	int n, h, w, c;
	double *x;
} pool_ctx;

static uint64_t maxpool_ref(double *out, void *vc)
{
	pool_ctx *p = vc;
	int oh = pool_out_size(p->h, 3, 2, 1), ow = pool_out_size(p->w, 3, 2, 1);
	uint64_t sig = 0;
	for (int n = 0; n < p->n; n++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++)
				for (int j = 0; j < p->c; j++) {
					double best = -INFINITY;
					int at = -1;
					for (int ky = 0; ky < 3; ky++)
						for (int kx = 0; kx < 3; kx++) {
							int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
							if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
								continue;
							double v = p->x[((size_t)(n * p->h + iy) * p->w + ix) * p->c + j];
							if (v > best)
								best = v, at = iy * p->w + ix;
						}
					sig = mix(sig, at);
					out[((size_t)(n * oh + oy) * ow + ox) * p->c + j] = best;
				}
	return sig;
}

static uint64_t gmaxpool_ref(double *out, void *vc)
{
	pool_ctx *p = vc;
	uint64_t sig = 0;
	for (int n = 0; n < p->n; n++)
		for (int j = 0; j < p->c; j++) {
			double best = -INFINITY;
			int at = 0;
			for (int q = 0; q < p->h * p->w; q++) {
				double v = p->x[((size_t)n * p->h * p->w + q) * p->c + j];
				if (v > best)
					best = v, at = q;
			}
			sig = mix(sig, at);
			out[(size_t)n * p->c + j] = best;
		}
	return sig;
}

START_TEST(maxpool)
{
	pool_ctx p = {2, 7, 8, 3, NULL};
	int oh = pool_out_size(7, 3, 2, 1), ow = pool_out_size(8, 3, 2, 1);
	ck_assert_int_eq(oh, 4);
	ck_assert_int_eq(ow, 4);
	size_t nx = (size_t)2 * 7 * 8 * 3, ny = (size_t)2 * oh * ow * 3;
	float *x = test_frand(nx, -1, 1), *y = zeros(ny), *r = test_frand(ny, -1, 1), *dx = zeros(nx);
	int32_t *idx = malloc(ny * sizeof *idx);
	p.x = dup64(x, nx);
	double *ref = malloc(ny * sizeof *ref);
	maxpool_ref(ref, &p);
	maxpool_forward(y, idx, x, 2, 7, 8, 3, 3, 2, 1);
	ck_assert(nerr(y, ref, ny) == 0);
	maxpool_forward(y, NULL, x, 2, 7, 8, 3, 3, 2, 1);
	ck_assert(nerr(y, ref, ny) == 0);
	maxpool_backward(dx, r, idx, 2, 7, 8, 3, oh, ow);
	double *r64 = dup64(r, ny);
	fd_check(maxpool_ref, &p, p.x, nx, r64, ny, dx, "maxpool din");

	/* ties (zeros after a ReLU) go to the first in row-major order */
	float t[6 * 6] = {0};
	float ty[9];
	int32_t ti[9];
	t[3 * 6 + 3] = t[3 * 6 + 4] = 2;
	maxpool_forward(ty, ti, t, 1, 6, 6, 1, 3, 2, 1);
	ck_assert_int_eq(ti[0], 0);          /* rows 0-1, cols 0-1: all zero */
	ck_assert_int_eq(ti[5], 3 * 6 + 3);  /* rows 1-3, cols 3-5: (3,3) before (3,4) */
	ck_assert(ty[5] == 2);
	free(x), free(y), free(r), free(dx), free(idx), free(p.x), free(ref), free(r64);
}
END_TEST

START_TEST(gmaxpool)
{
	pool_ctx p = {3, 3, 2, 4, NULL};
	size_t nx = (size_t)3 * 6 * 4, ny = 3 * 4;
	float *x = test_frand(nx, -1, 1), *y = zeros(ny), *r = test_frand(ny, -1, 1), *dx = zeros(nx);
	int32_t *idx = malloc(ny * sizeof *idx);
	p.x = dup64(x, nx);
	double *ref = malloc(ny * sizeof *ref);
	gmaxpool_ref(ref, &p);
	gmaxpool_forward(y, idx, x, 3, 6, 4);
	ck_assert(nerr(y, ref, ny) == 0);
	gmaxpool_backward(dx, r, idx, 3, 6, 4);
	double *r64 = dup64(r, ny);
	fd_check(gmaxpool_ref, &p, p.x, nx, r64, ny, dx, "global maxpool din");

	/* ties: the first maximum, as AdaptiveMaxPool2d */
	float t[6] = {0, 1, 1, 0, 1, 0};
	float ty[1], g[1] = {1}, dt[6] = {0};
	int32_t ti[1];
	gmaxpool_forward(ty, ti, t, 1, 6, 1);
	ck_assert_int_eq(ti[0], 1);
	gmaxpool_backward(dt, g, ti, 1, 6, 1);
	ck_assert(dt[1] == 1 && dt[2] == 0 && dt[4] == 0);
	free(x), free(y), free(r), free(dx), free(idx), free(p.x), free(ref), free(r64);
}
END_TEST

/* ---- dense, ReLU, dropout, loss ---- */

typedef struct {
	int n, i, o;
	double *x, *w, *b;
} dense_ctx;

static uint64_t dense_ref(double *out, void *vc)
{
	dense_ctx *d = vc;
	for (int n = 0; n < d->n; n++)
		for (int j = 0; j < d->o; j++) {
			double s = d->b[j];
			for (int k = 0; k < d->i; k++)
				s += d->x[(size_t)n * d->i + k] * d->w[(size_t)j * d->i + k];
			out[(size_t)n * d->o + j] = s;
		}
	return 0;
}

START_TEST(dense)
{
	const int n = 3, i = 7, o = 5;
	dense_ctx d = {n, i, o, NULL, NULL, NULL};
	float *x = test_frand(n * i, -1, 1), *w = test_frand(o * i, -1, 1), *b = test_frand(o, -1, 1);
	float *y = zeros(n * o), *r = test_frand(n * o, -1, 1);
	float *dx = zeros(n * i), *dw = zeros(o * i), *db = zeros(o);
	d.x = dup64(x, n * i), d.w = dup64(w, o * i), d.b = dup64(b, o);
	double ref[3 * 5];
	dense_ref(ref, &d);
	dense_forward(CXR_PREC_FP32, y, x, w, b, n, i, o);
	ck_assert_msg(nerr(y, ref, n * o) < FWD_TOL, "dense forward");
	dense_backward(CXR_PREC_FP32, dx, dw, db, r, x, w, n, i, o);
	double *r64 = dup64(r, n * o);
	fd_check(dense_ref, &d, d.x, n * i, r64, n * o, dx, "dense din");
	fd_check(dense_ref, &d, d.w, o * i, r64, n * o, dw, "dense dweight");
	fd_check(dense_ref, &d, d.b, o, r64, n * o, db, "dense dbias");
	free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
	free(d.x), free(d.w), free(d.b), free(r64);
}
END_TEST

typedef struct {
	int n;
	double *x;
	const float *mask;
} ew_ctx;

static uint64_t relu_ref(double *out, void *vc)
{
	ew_ctx *e = vc;
	uint64_t sig = 0;
	for (int i = 0; i < e->n; i++) {
		sig = mix(sig, e->x[i] > 0);
		out[i] = e->x[i] > 0 ? e->x[i] : 0;
	}
	return sig;
}

static uint64_t dropout_ref(double *out, void *vc)
{
	ew_ctx *e = vc;
	for (int i = 0; i < e->n; i++)
		out[i] = e->x[i] * e->mask[i];
	return 0;
}

START_TEST(relu_dropout)
{
	const int n = 40;
	float *x = test_frand(n, -1, 1), *y = zeros(n), *r = test_frand(n, -1, 1), *dx = zeros(n);
	ew_ctx e = {n, dup64(x, n), NULL};
	double ref[40], *r64 = dup64(r, n);
	relu_ref(ref, &e);
	relu_forward(y, x, n);
	ck_assert(nerr(y, ref, n) == 0);
	relu_backward(dx, r, y, n, 1);
	fd_check(relu_ref, &e, e.x, n, r64, n, dx, "relu din");
	for (int i = 0; i < n; i++)
		dx[i] = NAN;
	relu_backward(dx, r, y, n, 0);
	fd_check(relu_ref, &e, e.x, n, r64, n, dx, "relu din (overwritten)");

	/* dropout: a seeded mask of 0 and 1/(1-p), about p zeros */
	cxr_rng rng;
	cxr_rng_seed(&rng, 7);
	float *mask = zeros(10000);
	dropout_mask(mask, 10000, 0.2f, &rng);
	int zero = 0;
	for (int i = 0; i < 10000; i++) {
		ck_assert(mask[i] == 0 || mask[i] == 1.25f);
		zero += mask[i] == 0;
	}
	ck_assert_msg(zero > 1800 && zero < 2200, "%d zeros of 10000 at p=0.2", zero);
	float *mask2 = zeros(10000);
	cxr_rng_seed(&rng, 7);
	dropout_mask(mask2, 10000, 0.2f, &rng);
	ck_assert(!memcmp(mask, mask2, 10000 * sizeof *mask));
	e.mask = mask;
	dropout_ref(ref, &e);
	dropout_forward(y, x, mask, n);
	ck_assert(nerr(y, ref, n) < 1e-7);
	memset(dx, 0, n * sizeof *dx);
	dropout_backward(dx, r, mask, n);
	fd_check(dropout_ref, &e, e.x, n, r64, n, dx, "dropout din");
	free(x), free(y), free(r), free(dx), free(e.x), free(r64), free(mask), free(mask2);
}
END_TEST

typedef struct {
	int n;
	double *z;
	const float *t;
} bce_ctx;

static uint64_t bce_ref(double *out, void *vc)
{
	bce_ctx *b = vc;
	double s = 0;
	for (int i = 0; i < b->n; i++) {
		double p = 1 / (1 + exp(-b->z[i]));
		s -= b->t[i] * log(p) + (1 - b->t[i]) * log(1 - p);
	}
	out[0] = s / b->n;
	return 0;
}

START_TEST(bce)
{
	const int n = 6;
	float z[6] = {-3, -0.5f, 0, 0.25f, 2, 5}, t[6] = {0, 1, 1, 0, 1, 0.5f};
	float dz[6];
	bce_ctx b = {n, dup64(z, n), t};
	double ref, one = 1;
	bce_ref(&ref, &b);
	double loss = bce_logits(dz, z, t, n);
	ck_assert_msg(fabs(loss - ref) < 1e-12 * fabs(ref) + 1e-15, "bce %.17g vs %.17g", loss, ref);
	fd_check(bce_ref, &b, b.z, n, &one, 1, dz, "bce dlogits");
	/* stable at extreme logits */
	float zz[2] = {-200, 200}, tt[2] = {1, 0}, dd[2];
	loss = bce_logits(dd, zz, tt, 2);
	ck_assert(isfinite(loss) && fabs(loss - 200) < 1e-9);
	ck_assert(fabs(dd[0] + 0.5f) < 1e-7 && fabs(dd[1] - 0.5f) < 1e-7);
	free(b.z);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("layers");
	TCase *tc = tcase_create("conv");
	tcase_add_test(tc, conv_3x3);
	tcase_add_test(tc, conv_3x3_stride2);
	tcase_add_test(tc, conv_7x7_stem);
	tcase_add_test(tc, conv_1x1);
	tcase_add_test(tc, conv_chunked);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, gemm);
	tcase_add_test(tc, gemm_split);
	tcase_add_test(tc, conv_stats);
	tc = tcase_create("batchnorm");
	tcase_add_test(tc, bn_plain);
	tcase_add_test(tc, bn_relu);
	tcase_add_test(tc, bn_residual_relu);
	suite_add_tcase(s, tc);
	tc = tcase_create("pool");
	tcase_add_test(tc, maxpool);
	tcase_add_test(tc, gmaxpool);
	suite_add_tcase(s, tc);
	tc = tcase_create("head");
	tcase_add_test(tc, dense);
	tcase_add_test(tc, relu_dropout);
	tcase_add_test(tc, bce);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
