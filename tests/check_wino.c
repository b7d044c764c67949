/* Winograd F(4x4,3x3) convolutions, stride 1 (forward, data and weight
 * gradients) and stride 2 (forward), against a direct convolution in
 * double.
 *
 * Inputs at the magnitudes of the network: activations after a ReLU
 * (max(0, N(0,1))), He-initialised weights N(0, 2/(9C)), output gradients
 * N(0,1). Error is normwise, |a-b|_2 / |b|_2 over the whole tensor; the
 * bound is 1e-5 for every path (measured: at most 1.9e-6 forward and data
 * gradient, 1.5e-6 weight gradient, here and on the network's shapes in
 * the "slow" case). Every instruction set the CPU has is tried, with 1
 * and 2 threads, and the workspace is fenced to catch writes past
 * cxr_wino_workspace_size(). */
#include "testutil.h"
#include "nn/conv.h"
#include "nn/precision.h"
#include "nn/wino.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <omp.h>

#define BOUND 1e-5
#define FENCE 64

static unsigned long long rs = 88172645463325252ULL;

static double urand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (rs >> 11) * (1.0 / 9007199254740992.0);
}

static double nrand(void)
{
	return sqrt(-2 * log(1 - urand())) * cos(6.283185307179586 * urand());
}

static float *relu_normal(size_t n)
{
	float *p = malloc(n * sizeof *p + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = fmax(0, nrand());
	return p;
}

static float *normal(size_t n, double sd)
{
	float *p = malloc(n * sizeof *p + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = sd * nrand();
	return p;
}

/* A workspace with a fence of NaNs after it; fence_ok checks it. */
static float *ws_alloc(size_t n)
{
	float *p = malloc((n + FENCE) * sizeof *p);
	for (size_t i = 0; i < n + FENCE; i++)
		p[i] = NAN;
	return p;
}

static int fence_ok(const float *p, size_t n)
{
	for (size_t i = n; i < n + FENCE; i++)
		if (!isnan(p[i]))
			return 0;
	return 1;
}

/* y (N,H,W,K) = direct 3x3 stride-1 pad-1 conv of x (N,H,W,C), w (K,C,3,3) */
static void ref_forward(double *y, const float *x, const float *w, int N, int H, int W, int C,
			int K)
{
	for (int n = 0; n < N; n++)
		for (int oy = 0; oy < H; oy++)
			for (int ox = 0; ox < W; ox++)
				for (int k = 0; k < K; k++) {
					double s = 0;
					for (int i = 0; i < 3; i++)
						for (int j = 0; j < 3; j++) {
							int iy = oy + i - 1, ix = ox + j - 1;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue;
							const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
							for (int c = 0; c < C; c++)
								s += (double)xp[c] * w[((size_t)k * C + c) * 9 + i * 3 + j];
						}
					y[(((size_t)n * H + oy) * W + ox) * K + k] = s;
				}
}

/* dx (N,H,W,C) = gradient of the conv w.r.t. x, given dy (N,H,W,K) */
static void ref_dgrad(double *dx, const float *dy, const float *w, int N, int H, int W, int C,
		      int K)
{
	memset(dx, 0, (size_t)N * H * W * C * sizeof *dx);
	for (int n = 0; n < N; n++)
		for (int oy = 0; oy < H; oy++)
			for (int ox = 0; ox < W; ox++)
				for (int i = 0; i < 3; i++)
					for (int j = 0; j < 3; j++) {
						int iy = oy + i - 1, ix = ox + j - 1;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							continue;
						const float *g = dy + (((size_t)n * H + oy) * W + ox) * K;
						double *d = dx + (((size_t)n * H + iy) * W + ix) * C;
						for (int k = 0; k < K; k++)
							for (int c = 0; c < C; c++)
								d[c] += (double)g[k] * w[((size_t)k * C + c) * 9 + i * 3 + j];
					}
}

/* dw (K,C,3,3) = gradient of the conv w.r.t. w */
static void ref_wgrad(double *dw, const float *x, const float *dy, int N, int H, int W, int C,
		      int K)
{
	memset(dw, 0, (size_t)K * C * 9 * sizeof *dw);
	for (int n = 0; n < N; n++)
		for (int oy = 0; oy < H; oy++)
			for (int ox = 0; ox < W; ox++)
				for (int i = 0; i < 3; i++)
					for (int j = 0; j < 3; j++) {
						int iy = oy + i - 1, ix = ox + j - 1;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							continue;
						const float *g = dy + (((size_t)n * H + oy) * W + ox) * K;
						const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
						for (int k = 0; k < K; k++)
							for (int c = 0; c < C; c++)
								dw[((size_t)k * C + c) * 9 + i * 3 + j] +=
									(double)g[k] * xp[c];
					}
}

/* |a - (base + b)| / |base + b|, base may be NULL */
static double relerr(const float *a, const double *b, const float *base, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double r = b[i] + (base ? base[i] : 0);
		num += (a[i] - r) * (a[i] - r);
		den += r * r;
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

typedef struct shape {
	int n, h, w, c, k;
} shape;

/* Odd sizes, channel counts off the vector width, a tile cut by every
 * border, and one shape wide enough for realistic rounding. */
static const shape shapes[] = {
	{ 1, 7, 7, 3, 5 },    { 2, 5, 9, 17, 18 }, { 3, 1, 1, 4, 33 },  { 1, 2, 3, 16, 16 },
	{ 2, 8, 8, 32, 40 },  { 1, 13, 6, 40, 7 }, { 3, 4, 4, 1, 1 },   { 2, 11, 12, 48, 64 },
	{ 1, 16, 16, 256, 32 }, { 2, 20, 19, 8, 24 },
};
#define NSHAPES (int)(sizeof shapes / sizeof *shapes)

static const char *isas[] = { "avx512", "avx2", "sse2" };

/* cxr_wino_tune arguments: the cost model's plan (accumulate off, then
 * on), then forced plans (accumulate on for the odd ones) */
static const int tunes[][3] = {
	{ 0, 0, 0 }, { 0, 0, 0 }, { 12, 2, 1 }, { 24, 3, 2 }, { 12, 0, 2 },
};
#define NTUNES (int)(sizeof tunes / sizeof *tunes)

/* One shape's data and float64 reference, made once and checked under
 * every instruction set the CPU has, 1 and 2 threads, accumulate off and
 * on, with the cost model's plan and with forced ones (small blocks,
 * channel slices, both ways of sharing the weight gradient). */
typedef struct kase {
	shape s;
	float *in, *dout, *w, *base;  /* x or dy, dy, w, the accumulated-into start */
	double *ref;
	size_t nout;
} kase;

enum { FWD, DGRAD, WGRAD };

static void kase_make(kase *k, const shape *s, int what)
{
	k->s = *s;
	size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * s->h * s->w * s->k;
	size_t nw = (size_t)s->k * s->c * 9;
	k->w = normal(nw, sqrt(2.0 / (9 * s->c)));
	switch (what) {
	case FWD:
		k->in = relu_normal(nx), k->dout = NULL, k->nout = ny;
		k->ref = malloc(ny * sizeof *k->ref + 1);
		ref_forward(k->ref, k->in, k->w, s->n, s->h, s->w, s->c, s->k);
		k->base = normal(ny, 1);
		break;
	case DGRAD:
		k->in = normal(ny, 1), k->dout = NULL, k->nout = nx;
		k->ref = malloc(nx * sizeof *k->ref + 1);
		ref_dgrad(k->ref, k->in, k->w, s->n, s->h, s->w, s->c, s->k);
		k->base = normal(nx, 1);
		break;
	case WGRAD:
		k->in = relu_normal(nx), k->dout = normal(ny, 1), k->nout = nw;
		k->ref = malloc(nw * sizeof *k->ref + 1);
		ref_wgrad(k->ref, k->in, k->dout, s->n, s->h, s->w, s->c, s->k);
		/* dw starts from values of the gradient's own size */
		k->base = normal(nw, sqrt((double)s->n * s->h * s->w));
		break;
	}
}

static void kase_free(kase *k)
{
	free(k->in), free(k->dout), free(k->w), free(k->base), free(k->ref);
}

/* The relative error of one run. */
static double kase_run(const kase *k, int what, int acc)
{
	const shape *s = &k->s;
	size_t nws = cxr_wino_workspace_size(s->n, s->h, s->w, s->c, s->k);
	float *ws = ws_alloc(nws), *out = malloc(k->nout * sizeof *out + 1), *U = NULL;
	size_t nu = 0;
	if (acc || what == WGRAD)
		memcpy(out, k->base, k->nout * sizeof *out);
	else
		for (size_t i = 0; i < k->nout; i++)
			out[i] = NAN;  /* accumulate off must overwrite */
	switch (what) {
	case FWD:
		U = ws_alloc(nu = cxr_wino_weights_size(s->c, s->k));
		cxr_wino_transform_weights(U, k->w, s->c, s->k);
		cxr_wino_forward(out, k->in, U, s->n, s->h, s->w, s->c, s->k, ws, acc);
		break;
	case DGRAD:
		/* the data gradient is a forward call with C and K swapped */
		U = ws_alloc(nu = cxr_wino_weights_size(s->k, s->c));
		cxr_wino_transform_weights_backward(U, k->w, s->c, s->k);
		cxr_wino_forward(out, k->in, U, s->n, s->h, s->w, s->k, s->c, ws, acc);
		break;
	case WGRAD:
		if (!acc)
			memset(out, 0, k->nout * sizeof *out);
		cxr_wino_backward_weights(out, k->in, k->dout, s->n, s->h, s->w, s->c, s->k, ws);
		break;
	}
	ck_assert_msg(fence_ok(ws, nws), "workspace overrun");
	ck_assert_msg(!U || fence_ok(U, nu), "weights overrun");
	double e = relerr(out, k->ref, acc ? k->base : NULL, k->nout);
	free(ws), free(out), free(U);
	return e;
}

static void for_all(int what, const char *name)
{
	double worst = 0;
	for (int i = 0; i < NSHAPES; i++) {
		kase k;
		kase_make(&k, &shapes[i], what);
		for (int a = 0, first = 1; a < 3; a++) {
			if (cxr_wino_set_isa(isas[a]) < 0)
				continue;
			/* the forced plans with the best instruction set only */
			int ntunes = first ? NTUNES : 2;
			first = 0;
			for (int t = 1; t <= 2; t++)
				for (int f = 0; f < ntunes; f++) {
					omp_set_num_threads(t);
					cxr_wino_tune(tunes[f][0], tunes[f][1], tunes[f][2]);
					int acc = f % 2;
					double e = kase_run(&k, what, acc);
					ck_assert_msg(e < BOUND,
						      "%s %s threads %d tune %d shape %dx%dx%dx%d->%d "
						      "acc %d: relative error %g",
						      name, isas[a], t, f, shapes[i].n, shapes[i].h,
						      shapes[i].w, shapes[i].c, shapes[i].k, acc, e);
					if (e > worst)
						worst = e;
				}
		}
		kase_free(&k);
	}
	cxr_wino_set_isa(NULL);
	cxr_wino_tune(0, 0, 0);
	omp_set_num_threads(omp_get_num_procs());
	printf("%s: worst normwise relative error %.3g (best isa %s)\n", name, worst,
	       cxr_wino_isa());
}

START_TEST(test_forward)
{
	for_all(FWD, "forward");
}
END_TEST

START_TEST(test_dgrad)
{
	for_all(DGRAD, "data gradient");
}
END_TEST

START_TEST(test_wgrad)
{
	for_all(WGRAD, "weight gradient");
}
END_TEST

/* The network's own shapes (one image; two at 8x8), every pass: the
 * figures quoted in wino.h. */
START_TEST(test_network_shapes)
{
	static const shape net[] = {
		{ 1, 64, 64, 64, 64 }, { 1, 32, 32, 128, 128 }, { 1, 16, 16, 256, 256 }, { 2, 8, 8, 512, 512 },
	};
	static const char *pass[] = { "forward", "data gradient", "weight gradient" };
	for (int i = 0; i < 4; i++)
		for (int what = FWD; what <= WGRAD; what++) {
			kase k;
			kase_make(&k, &net[i], what);
			double e = kase_run(&k, what, 0);
			printf("%dx%dx%dx%d %s: normwise relative error %.3g\n", net[i].n, net[i].h,
			       net[i].w, net[i].c, pass[what], e);
			ck_assert_msg(e < BOUND, "%s: relative error %g", pass[what], e);
			kase_free(&k);
		}
}
END_TEST

/* cxr_wino_forward_act (stride 1) and cxr_wino2_forward_act (stride 2):
 * with fp32 x and y, the bits of the plain forward of that stride and
 * conv_bias_relu after it; with either in bf16, the bits of the fp32
 * call on the values they hold, a bf16 y rounded once (precision.h's
 * rounding). Every instruction set, 1 and 2 threads, channels that fill
 * no vector, tiles cut by the image's edge. An fp32 y's channel sums
 * (stats: batch norm's statistics, added up as y is stored) against
 * double sums of the stored y, within test_channel_sums' bound for
 * float sums over a tile's 16 outputs (u = 16 * 2^-24); y the same bits
 * with them as without. */
typedef void forward_act_fn(void *, int, const void *, int, const float *, int, int, int, int,
			    int, float *, int, const float *, int, double *);

static void check_act(int stride, int N, int H, int W, int C, int K, int acc, int relu)
{
	const int OH = stride == 2 ? (H + 1) / 2 : H, OW = stride == 2 ? (W + 1) / 2 : W;
	forward_act_fn *act = stride == 2 ? cxr_wino2_forward_act : cxr_wino_forward_act;
	const char *name = stride == 2 ? "wino2_forward_act" : "wino_forward_act";
	const size_t nx = (size_t)N * H * W * C, ny = (size_t)N * OH * OW * K;
	float *x = relu_normal(nx), *w = normal((size_t)K * C * 9, sqrt(2.0 / (9 * C)));
	float *bias = normal(K, 0.5), *y0 = normal(ny, 1);
	float *ref = malloc(ny * sizeof *ref), *yf = malloc(ny * sizeof *yf);
	uint16_t *x16 = malloc(nx * 2), *y16 = malloc(ny * 2), *y016 = malloc(ny * 2);
	for (size_t i = 0; i < nx; i++)
		x16[i] = cxr_bf16_round(x[i]), x[i] = cxr_bf16_float(x16[i]);
	for (size_t i = 0; i < ny; i++)
		y016[i] = cxr_bf16_round(y0[i]), y0[i] = cxr_bf16_float(y016[i]);
	const size_t nu = stride == 2 ? cxr_wino2_weights_size(C, K) : cxr_wino_weights_size(C, K);
	const size_t nws = stride == 2 ? cxr_wino2_workspace_size(N, H, W, C, K)
				       : cxr_wino_workspace_size(N, H, W, C, K);
	float *U = malloc(nu * sizeof *U), *ws = malloc(nws * sizeof *ws);
	if (stride == 2)
		cxr_wino2_transform_weights(U, w, C, K);
	else
		cxr_wino_transform_weights(U, w, C, K);
	for (int a = 0; a < 3; a++) {
		if (cxr_wino_set_isa(isas[a]) < 0)
			continue;
		for (int t = 1; t <= 2; t++) {
			omp_set_num_threads(t);
			memcpy(ref, y0, ny * sizeof *ref);
			act(ref, 0, x, 0, U, N, H, W, C, K, ws, acc, NULL, 0, NULL);
			conv_bias_relu(ref, bias, relu, (size_t)N * OH * OW, K);
			for (int mix = 0; mix < 4; mix++) {
				const int x_h = mix & 1, y_h = mix >> 1;
				memcpy(yf, y0, ny * sizeof *yf);
				memcpy(y16, y016, ny * 2);
				double *stats = y_h ? NULL : calloc((size_t)t * 2 * K, sizeof *stats);
				act(y_h ? (void *)y16 : yf, y_h, x_h ? (const void *)x16 : x, x_h, U, N, H, W,
				    C, K, ws, acc, bias, relu, stats);
				if (stats) {
					double got[2], want[2];
					const int k = test_channel_sums(stats, t, yf, ny / K, K,
									16 * ldexp(1, -24), got, want);
					ck_assert_msg(k < 0,
						      "%s %s %d threads %dx%dx%dx%d->%d acc %d relu %d: "
						      "channel %d's sums %.9g %.9g, want %.9g %.9g",
						      name, isas[a], t, N, H, W, C, K, acc, relu, k, got[0],
						      got[1], want[0], want[1]);
				}
				free(stats);
				for (size_t i = 0; i < ny; i++) {
					float got = y_h ? cxr_bf16_float(y16[i]) : yf[i];
					float want = y_h ? cxr_bf16_float(cxr_bf16_round(ref[i])) : ref[i];
					ck_assert_msg(!memcmp(&got, &want, sizeof got),
						      "%s %s %d threads %dx%dx%dx%d->%d x %s y %s acc %d "
						      "relu %d: [%zu] %a, want %a", name, isas[a], t, N, H, W,
						      C, K, x_h ? "bf16" : "fp32", y_h ? "bf16" : "fp32", acc,
						      relu, i, got, want);
				}
			}
		}
	}
	cxr_wino_set_isa(NULL);
	omp_set_num_threads(omp_get_num_procs());
	free(x), free(w), free(bias), free(y0), free(ref), free(yf), free(x16), free(y16);
	free(y016), free(U), free(ws);
}

/* The rounding of a bf16 y on chosen values: a zero input makes y the
 * bias, which holds ties both ways, a carry into the exponent,
 * subnormals, an infinity and a NaN. */
static void check_act_rounding(void)
{
	enum { C = 16, K = 16, HW = 25 };
	static const float special[K] = { 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -(1.0f + 0x1p-8f),
					  1.0f + 0x1p-8f + 0x1p-20f, 0x1.ffp0f, 0x1p-130f, -0x1p-130f,
					  0, 0x1p-126f, INFINITY, -3.0f, 0x1.ffffp127f, NAN, 1e-3f,
					  65504.5f, -7.75e-20f };
	float x[HW * C] = { 0 }, w[K * C * 9];
	uint16_t y[HW * K];
	for (int i = 0; i < K * C * 9; i++)
		w[i] = (float)(i % 7) - 3;
	float *U = malloc(cxr_wino_weights_size(C, K) * sizeof *U);
	float *ws = malloc(cxr_wino_workspace_size(1, 5, 5, C, K) * sizeof *ws);
	cxr_wino_transform_weights(U, w, C, K);
	for (int a = 0; a < 3; a++) {
		if (cxr_wino_set_isa(isas[a]) < 0)
			continue;
		cxr_wino_forward_act(y, 1, x, 0, U, 1, 5, 5, C, K, ws, 0, special, 0, NULL);
		for (int p = 0; p < HW; p++)
			for (int k = 0; k < K; k++)
				ck_assert_msg(y[p * K + k] == cxr_bf16_round(special[k]),
					      "%s: %a rounded to %#x, want %#x", isas[a], special[k],
					      y[p * K + k], cxr_bf16_round(special[k]));
	}
	cxr_wino_set_isa(NULL);
	free(U), free(ws);
}

START_TEST(test_act)
{
	check_act_rounding();
	for (int stride = 1; stride <= 2; stride++) {
		check_act(stride, 2, 9, 7, 20, 33, 0, 1);
		check_act(stride, 1, 12, 13, 48, 32, 1, 1);
		check_act(stride, 2, 5, 6, 16, 17, 1, 0);
		check_act(stride, 1, 8, 8, 64, 64, 0, 0);
	}
}
END_TEST

/* The weight transform writes U by streaming stores where U is 16-byte
 * aligned and by ordinary ones elsewhere: both give the same bits, on
 * every instruction set, forward and rotated (the data gradient's), for
 * channel counts that fill no vector and one that fills several. */
START_TEST(test_transform_alignment)
{
	static const int shapes[][2] = { { 3, 5 }, { 40, 33 }, { 64, 48 } };
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		const int C = shapes[s][0], K = shapes[s][1];
		float *w = normal((size_t)K * C * 9, 1);
		for (int rot = 0; rot < 2; rot++) {
			/* rotated: U holds (K, C) swapped */
			const size_t nu = rot ? cxr_wino_weights_size(K, C) : cxr_wino_weights_size(C, K);
			float *a = aligned_alloc(64, (nu + 16) * sizeof *a);
			float *b = aligned_alloc(64, (nu + 16) * sizeof *b);
			for (int i = 0; i < 3; i++) {
				if (cxr_wino_set_isa(isas[i]) < 0)
					continue;
				memset(a, 0, (nu + 16) * sizeof *a);
				memset(b, 0, (nu + 16) * sizeof *b);
				float *ua = a, *ub = b + 1; /* 4 bytes past a line: unaligned */
				if (rot) {
					cxr_wino_transform_weights_backward(ua, w, C, K);
					cxr_wino_transform_weights_backward(ub, w, C, K);
				} else {
					cxr_wino_transform_weights(ua, w, C, K);
					cxr_wino_transform_weights(ub, w, C, K);
				}
				size_t nonzero = 0;
				for (size_t j = 0; j < nu; j++) {
					ck_assert_msg(!memcmp(ua + j, ub + j, sizeof *ua),
						      "%s %dx%d rot %d: U[%zu] aligned %a, unaligned %a",
						      isas[i], C, K, rot, j, ua[j], ub[j]);
					nonzero += ua[j] != 0;
				}
				ck_assert_msg(nonzero > (size_t)18 * C * K, "%s %dx%d rot %d: U mostly zero",
					      isas[i], C, K, rot);
			}
			free(a), free(b);
		}
		/* the stride-2 transform (81 elements) likewise */
		const size_t n2 = cxr_wino2_weights_size(C, K);
		float *a = aligned_alloc(64, (n2 + 16) * sizeof *a);
		float *b = aligned_alloc(64, (n2 + 16) * sizeof *b);
		for (int i = 0; i < 3; i++) {
			if (cxr_wino_set_isa(isas[i]) < 0)
				continue;
			memset(a, 0, (n2 + 16) * sizeof *a);
			memset(b, 0, (n2 + 16) * sizeof *b);
			cxr_wino2_transform_weights(a, w, C, K);
			cxr_wino2_transform_weights(b + 1, w, C, K);
			size_t nonzero = 0;
			for (size_t j = 0; j < n2; j++) {
				ck_assert_msg(!memcmp(a + j, b + 1 + j, sizeof *a),
					      "%s %dx%d stride 2: U[%zu] aligned %a, unaligned %a",
					      isas[i], C, K, j, a[j], b[1 + j]);
				nonzero += a[j] != 0;
			}
			ck_assert_msg(nonzero > (size_t)40 * C * K, "%s %dx%d stride 2: U mostly zero",
				      isas[i], C, K);
		}
		free(a), free(b);
		free(w);
	}
	cxr_wino_set_isa(NULL);
}
END_TEST

/* --- stride 2 (cxr_wino2_*, forward only) --- */

/* y (N,(H+1)/2,(W+1)/2,K) = direct 3x3 stride-2 pad-1 conv of x, in double */
static void ref_forward2(double *y, const float *x, const float *w, int N, int H, int W, int C,
			 int K)
{
	const int OH = (H + 1) / 2, OW = (W + 1) / 2;
	for (int n = 0; n < N; n++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++)
				for (int k = 0; k < K; k++) {
					double s = 0;
					for (int i = 0; i < 3; i++)
						for (int j = 0; j < 3; j++) {
							int iy = 2 * oy + i - 1, ix = 2 * ox + j - 1;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue;
							const float *xp = x + (((size_t)n * H + iy) * W + ix) * C;
							for (int c = 0; c < C; c++)
								s += (double)xp[c] * w[((size_t)k * C + c) * 9 + i * 3 + j];
						}
					y[(((size_t)n * OH + oy) * OW + ox) * K + k] = s;
				}
}

/* Every shape (odd sizes, images of 1 and 2 pixels, tiles cut by every
 * border, channel counts off the vector width), every instruction set,
 * 1 and 2 threads, the cost model's plan and forced ones, accumulate off
 * and on: within BOUND of the float64 direct convolution, and nothing
 * written past cxr_wino2_workspace_size(). */
START_TEST(test_stride2)
{
	for (int si = 0; si < NSHAPES; si++) {
		const shape *s = &shapes[si];
		const int OH = (s->h + 1) / 2, OW = (s->w + 1) / 2;
		const size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * OH * OW * s->k;
		float *x = relu_normal(nx), *w = normal((size_t)s->k * s->c * 9, sqrt(2.0 / (9 * s->c)));
		float *base = normal(ny, 1), *y = malloc(ny * sizeof *y);
		double *ref = malloc(ny * sizeof *ref);
		ref_forward2(ref, x, w, s->n, s->h, s->w, s->c, s->k);
		float *U = malloc(cxr_wino2_weights_size(s->c, s->k) * sizeof *U);
		cxr_wino2_transform_weights(U, w, s->c, s->k);
		for (int a = 0; a < 3; a++) {
			if (cxr_wino_set_isa(isas[a]) < 0)
				continue;
			for (int tu = 0; tu < NTUNES; tu++) {
				cxr_wino_tune(tunes[tu][0], tunes[tu][1], 0);
				const int acc = tu % 2;
				const size_t nws = cxr_wino2_workspace_size(s->n, s->h, s->w, s->c, s->k);
				float *ws = ws_alloc(nws);
				for (int t = 1; t <= 2; t++) {
					omp_set_num_threads(t);
					memcpy(y, base, ny * sizeof *y);
					cxr_wino2_forward_act(y, 0, x, 0, U, s->n, s->h, s->w, s->c, s->k, ws,
							      acc, NULL, 0, NULL);
					double e = relerr(y, ref, acc ? base : NULL, ny);
					ck_assert_msg(e < BOUND,
						      "wino2 %s %d threads tune %d %dx%dx%dx%d->%d acc %d: "
						      "error %.3g", isas[a], t, tu, s->n, s->h, s->w, s->c,
						      s->k, acc, e);
					ck_assert_msg(fence_ok(ws, nws), "wino2 %s tune %d %dx%dx%dx%d->%d: "
						      "wrote past its workspace", isas[a], tu, s->n, s->h,
						      s->w, s->c, s->k);
				}
				free(ws);
			}
		}
		cxr_wino_tune(0, 0, 0);
		free(x), free(w), free(base), free(y), free(ref), free(U);
	}
	cxr_wino_set_isa(NULL);
	omp_set_num_threads(omp_get_num_procs());
}
END_TEST

/* A zero-size batch is a no-op, and an image of one pixel sees only the
 * centre tap. */
START_TEST(test_edges)
{
	float x[2] = { 3, -1 }, w[2 * 2 * 9], y[2] = { 7, 7 }, ws1[1] = { 0 };
	for (int i = 0; i < 2 * 2 * 9; i++)
		w[i] = i;
	size_t nu = cxr_wino_weights_size(2, 2), nws = cxr_wino_workspace_size(1, 1, 1, 2, 2);
	float *U = malloc(nu * sizeof *U), *ws = malloc(nws * sizeof *ws);
	cxr_wino_transform_weights(U, w, 2, 2);
	cxr_wino_forward(y, x, U, 0, 1, 1, 2, 2, ws1, 0);
	ck_assert(y[0] == 7 && y[1] == 7);
	cxr_wino_forward(y, x, U, 1, 1, 1, 2, 2, ws, 0);
	/* y[k] = sum_c x[c] * w[k][c][1][1] */
	ck_assert_float_eq_tol(y[0], 3 * 4 - 1 * 13, 1e-4);
	ck_assert_float_eq_tol(y[1], 3 * 22 - 1 * 31, 1e-4);
	ck_assert_int_eq(cxr_wino_set_isa("no-such"), -1);
	free(U), free(ws);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wino");
	TCase *tc = tcase_create("wino");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_dgrad);
	tcase_add_test(tc, test_wgrad);
	tcase_add_test(tc, test_edges);
	tcase_add_test(tc, test_transform_alignment);
	tcase_add_test(tc, test_act);
	tcase_add_test(tc, test_stride2);
	suite_add_tcase(s, tc);
	TCase *slow = tcase_create("network");
	tcase_set_tags(slow, "slow");
	tcase_set_timeout(slow, 120);
	tcase_add_test(slow, test_network_shapes);
	suite_add_tcase(s, slow);
	return test_run_suite(s);
}
