/* wino_bench — Winograd F(4x4,3x3) (lib/wino) against im2col + sgemm on
 * every stride-1 3x3 convolution shape of ResNet-50 at 256x256 input.
 *
 * usage: wino_bench [-c] [-n batch] [-j threads] [-r repeats] [-s stage]
 *                   [-T tiles,slices[,wgrad_mode]] [-2]
 *
 * -2 times the stride-2 forward instead (stride2_table, below).
 *
 * -T forces the Winograd plan's block of tiles and column slices
 * (cxr_wino_tune; 0 leaves one to the cost model), to try the model's
 * choices against others on a machine.
 *
 * For each stage (64x64 C=K=64, 32x32 128, 16x16 256, 8x8 512) it times
 * the forward, the data gradient and the weight gradient both ways and
 * prints ms (best of -r runs) and effective GFLOP/s: the direct
 * convolution's 2*N*H*W*C*K*9 flops over the time. The baseline is a
 * channels-last im2col in chunks of 8 MB with the library's product,
 * cxr_gemm, as lib/nn/conv.c runs it (cxr's own kernel on AVX-512, else
 * OpenBLAS shared out among the OpenMP threads); the data gradient's
 * col2im is a gather. */
#include "base/parallel.h"
#include "nn/conv.h"
#include "nn/gemm.h"
#include "nn/wino.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Wall time, or with -c the process's CPU time: on a machine shared with
 * other jobs, a one-thread run's CPU time is the steadier measure. */
static clockid_t clk = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *randn(size_t n, double sd, int relu)
{
	float *p = malloc(n * sizeof *p);
	unsigned long long s = 0x9E3779B97F4A7C15ULL ^ n;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		double u = ((s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		double v = (s >> 11) * (1.0 / 9007199254740992.0);
		double g = sd * sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
		p[i] = relu && g < 0 ? 0 : g;
	}
	return p;
}

/* --- the baseline: im2col + sgemm, channels-last ----------------------- */

/* wt (K,3,3,C), the baseline's (and conv.h's) layout, from w (K,C,3,3),
 * wino.h's. */
static void to_k33c(float *wt, const float *w, int K, int C)
{
	for (int k = 0; k < K; k++)
		for (int q = 0; q < C; q++)
			for (int t = 0; t < 9; t++)
				wt[((size_t)k * 9 + t) * C + q] = w[((size_t)k * C + q) * 9 + t];
}

enum { CHUNK = 1 << 21 };

typedef struct shape {
	int n, h, w, c, k;
} shape;

/* Rows (of W output pixels) per im2col chunk. */
static int chunk_rows(const shape *s)
{
	int r = CHUNK / (s->w * 9 * s->c);
	return r < 1 ? 1 : r > s->n * s->h ? s->n * s->h : r;
}

/* col (rows*W, 9C) for output rows [r0, r1) of the N*H */
static void im2col(float *col, const float *x, const shape *s, int r0, int r1)
{
	const int H = s->h, W = s->w, C = s->c;
	const long np = (long)(r1 - r0) * W;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < np; p++) {
		int r = r0 + (int)(p / W), ox = (int)(p % W), n = r / H, oy = r % H;
		float *dst = col + p * 9 * C;
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++, dst += C) {
				int iy = oy + i - 1, ix = ox + j - 1;
				if (iy < 0 || iy >= H || ix < 0 || ix >= W)
					memset(dst, 0, C * sizeof *dst);
				else
					memcpy(dst, x + (((size_t)n * H + iy) * W + ix) * C,
					       C * sizeof *dst);
			}
	}
}

/* dx += col2im(dcol) for output rows [r0, r1), gathered by input row */
static void col2im(float *dx, const float *dcol, const shape *s, int r0, int r1)
{
	const int H = s->h, W = s->w, C = s->c;
	const int g0 = r0 > 0 ? r0 - 1 : 0, g1 = r1 < s->n * H ? r1 + 1 : r1;
#pragma omp parallel for schedule(static)
	for (int g = g0; g < g1; g++) {
		int n = g / H, iy = g % H;
		for (int i = 0; i < 3; i++) {
			int oy = iy + 1 - i, r = n * H + oy;
			if (oy < 0 || oy >= H || r < r0 || r >= r1)
				continue;
			for (int ox = 0; ox < W; ox++)
				for (int j = 0; j < 3; j++) {
					int ix = ox + j - 1;
					if (ix < 0 || ix >= W)
						continue;
					float *d = dx + ((size_t)g * W + ix) * C;
					const float *c = dcol + ((size_t)(r - r0) * W + ox) * 9 * C +
							 (i * 3 + j) * C;
					for (int q = 0; q < C; q++)
						d[q] += c[q];
				}
		}
	}
}

/* y (P, K) = col (P, 9C) * wt' with wt (K, 9C) = w in (K, 3, 3, C) order */
static void base_forward(float *y, const float *x, const float *wt, const shape *s, float *col)
{
	const int R = chunk_rows(s), rows = s->n * s->h, kk = 9 * s->c;
	for (int r0 = 0; r0 < rows; r0 += R) {
		int r1 = r0 + R < rows ? r0 + R : rows, m = (r1 - r0) * s->w;
		im2col(col, x, s, r0, r1);
		cxr_gemm(0, 1, m, s->k, kk, col, kk, wt, kk, 0, y + (size_t)r0 * s->w * s->k, s->k);
	}
}

static void base_dgrad(float *dx, const float *dy, const float *wt, const shape *s, float *col)
{
	const int R = chunk_rows(s), rows = s->n * s->h, kk = 9 * s->c;
	memset(dx, 0, (size_t)rows * s->w * s->c * sizeof *dx);
	for (int r0 = 0; r0 < rows; r0 += R) {
		int r1 = r0 + R < rows ? r0 + R : rows, m = (r1 - r0) * s->w;
		cxr_gemm(0, 0, m, kk, s->k, dy + (size_t)r0 * s->w * s->k, s->k, wt, kk, 0, col, kk);
		col2im(dx, col, s, r0, r1);
	}
}

static void base_wgrad(float *dwt, const float *x, const float *dy, const shape *s, float *col)
{
	const int R = chunk_rows(s), rows = s->n * s->h, kk = 9 * s->c;
	for (int r0 = 0; r0 < rows; r0 += R) {
		int r1 = r0 + R < rows ? r0 + R : rows, m = (r1 - r0) * s->w;
		im2col(col, x, s, r0, r1);
		cxr_gemm(1, 0, s->k, kk, m, dy + (size_t)r0 * s->w * s->k, s->k, col, kk, 1, dwt, kk);
	}
}

/* --- timing -------------------------------------------------------------- */

typedef struct ctx {
	shape s;
	float *x, *y, *dy, *dx, *w, *wt, *dw, *col, *U, *Ub, *ws;
} ctx;

enum { B_FWD, B_DGRAD, B_WGRAD, W_FWD, W_DGRAD, W_WGRAD, W_XFORM, NOPS };

static void run(ctx *c, int op)
{
	const shape *s = &c->s;
	switch (op) {
	case B_FWD: base_forward(c->y, c->x, c->wt, s, c->col); break;
	case B_DGRAD: base_dgrad(c->dx, c->dy, c->wt, s, c->col); break;
	case B_WGRAD: base_wgrad(c->dw, c->x, c->dy, s, c->col); break;
	case W_FWD: cxr_wino_forward(c->y, c->x, c->U, s->n, s->h, s->w, s->c, s->k, c->ws, 0); break;
	case W_DGRAD:
		cxr_wino_forward(c->dx, c->dy, c->Ub, s->n, s->h, s->w, s->k, s->c, c->ws, 0);
		break;
	case W_WGRAD:
		cxr_wino_backward_weights(c->dw, c->x, c->dy, s->n, s->h, s->w, s->c, s->k, c->ws);
		break;
	case W_XFORM:
		cxr_wino_transform_weights(c->U, c->w, s->c, s->k);
		cxr_wino_transform_weights_backward(c->Ub, c->w, s->c, s->k);
		break;
	}
}

/* -2: ResNet-50's three stride-2 3x3 layers (input 64x64 C=K=128,
 * 32x32 256, 16x16 512), forward with the bias and ReLU as scoring runs
 * them: the stride-2 Winograd (cxr_wino2_forward_act) against im2col and
 * the product on weights packed once (conv_forward_packed), alternated;
 * ms (best of reps), effective GFLOP/s (the direct convolution's FLOP)
 * and the transformed weights' size. */
static int stride2_table(int batch, int reps)
{
	printf("%-5s %-14s %9s %9s %9s %9s %7s %8s\n", "stage", "input", "im2col_ms", "wino2_ms",
	       "im2col_GF", "wino2_GF", "speedup", "U_MB");
	static const int hw[] = { 64, 32, 16 }, ch[] = { 128, 256, 512 };
	for (int st = 0; st < 3; st++) {
		conv_dims d;
		conv_dims_set(&d, batch, hw[st], hw[st], ch[st], ch[st], 3, 2, 1);
		const size_t nx = (size_t)d.n * d.h * d.w * d.c, ny = (size_t)d.n * d.oh * d.ow * d.o;
		const size_t nw = (size_t)d.o * 9 * d.c, nu = cxr_wino2_weights_size(d.c, d.o);
		float *x = randn(nx, 1, 1), *y = malloc(ny * sizeof *y), *bias = randn(d.o, 0.1, 0);
		float *w = randn(nw, sqrt(2.0 / (9 * d.c)), 0), *wt = malloc(nw * sizeof *wt);
		to_k33c(wt, w, d.o, d.c);
		float *packed = aligned_alloc(64, (conv_packed_size(&d) + 16) * sizeof *packed);
		float *U = aligned_alloc(64, (nu + 16) * sizeof *U);
		size_t nws = conv_workspace(&d), nw2 = cxr_wino2_workspace_size(d.n, d.h, d.w, d.c, d.o);
		float *ws = malloc((nws > nw2 ? nws : nw2) * sizeof *ws);
		conv_pack_weights(packed, wt, &d);
		cxr_wino2_transform_weights(U, w, d.c, d.o);
		double best[2] = { 1e30, 1e30 };
		for (int r = 0; r <= reps; r++)
			for (int way = 0; way < 2; way++) {
				double t0 = now();
				if (way)
					cxr_wino2_forward_act(y, 0, x, 0, U, d.n, d.h, d.w, d.c, d.o, ws, 0,
							      bias, 1, NULL);
				else
					conv_forward_packed(y, x, packed, bias, &d, ws, CONV_RELU);
				double t = now() - t0;
				if (r > 0 && t < best[way])
					best[way] = t;
			}
		const double flops = 2.0 * ny * d.c * 9;
		char sh[32];
		snprintf(sh, sizeof sh, "%dx%dx%d", d.h, d.w, d.c);
		printf("%-5d %-14s %9.2f %9.2f %9.1f %9.1f %6.2fx %8.1f\n", st + 2, sh, best[0] * 1e3,
		       best[1] * 1e3, flops / best[0] * 1e-9, flops / best[1] * 1e-9, best[0] / best[1],
		       nu * 4e-6);
		free(x), free(y), free(bias), free(w), free(wt), free(packed), free(U), free(ws);
	}
	return 0;
}

int main(int argc, char **argv)
{
	cxr_blas_prefer_avx512(argv);
	int batch = 16, threads = 2, reps = 3, only = 0, opt, tiles = 0, slices = 0, mode = 0;
	int stride2 = 0;
	while ((opt = getopt(argc, argv, "cn:j:r:s:T:2")) != -1) {
		switch (opt) {
		case '2': stride2 = 1; break;
		case 'c': clk = CLOCK_PROCESS_CPUTIME_ID; break;
		case 'n': batch = atoi(optarg); break;
		case 'j': threads = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 's': only = atoi(optarg); break;
		case 'T':
			if (sscanf(optarg, "%d,%d,%d", &tiles, &slices, &mode) < 2)
				tiles = -1;
			break;
		default:
			fprintf(stderr, "usage: wino_bench [-c] [-n batch] [-j threads] [-r repeats] "
					"[-s stage] [-T tiles,slices[,wgrad_mode]] [-2]\n");
			return 2;
		}
	}
	if (batch < 1 || threads < 1 || reps < 1 || tiles < 0 || slices < 0)
		return 2;
	cxr_par_set_threads(threads);
	cxr_wino_tune(tiles, slices, mode);
	printf("# wino_bench: batch %d, %d threads, best of %d %s; OpenBLAS %s, wino %s\n",
	       batch, threads, reps, clk == CLOCK_MONOTONIC ? "wall" : "cpu", cxr_blas_core(),
	       cxr_wino_isa());
	if (stride2)
		return stride2_table(batch, reps);
	printf("%-5s %-14s %-6s %9s %9s %9s %9s %7s\n", "stage", "shape", "pass", "gemm_ms",
	       "wino_ms", "gemm_GF", "wino_GF", "speedup");
	static const int hw[] = { 64, 32, 16, 8 }, ch[] = { 64, 128, 256, 512 };
	double tot[2] = { 0, 0 };
	for (int st = 0; st < 4; st++) {
		if (only && only != st + 1)
			continue;
		ctx c = { .s = { batch, hw[st], hw[st], ch[st], ch[st] } };
		const shape *s = &c.s;
		size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * s->h * s->w * s->k;
		size_t nw = (size_t)s->k * s->c * 9;
		c.x = randn(nx, 1, 1), c.dx = randn(nx, 1, 0);
		c.y = randn(ny, 1, 0), c.dy = randn(ny, 1, 0);
		c.w = randn(nw, sqrt(2.0 / (9 * s->c)), 0), c.dw = randn(nw, 0, 0);
		c.wt = malloc(nw * sizeof *c.wt);
		to_k33c(c.wt, c.w, s->k, s->c);
		c.col = malloc((size_t)chunk_rows(s) * s->w * 9 * s->c * sizeof *c.col);
		c.U = malloc(cxr_wino_weights_size(s->c, s->k) * sizeof *c.U);
		c.Ub = malloc(cxr_wino_weights_size(s->k, s->c) * sizeof *c.Ub);
		c.ws = malloc(cxr_wino_workspace_size(s->n, s->h, s->w, s->c, s->k) * sizeof *c.ws);
		double best[NOPS];
		for (int op = 0; op < NOPS; op++)
			best[op] = 1e30;
		/* alternate the two ways, so that a busy neighbour hurts both */
		for (int r = 0; r <= reps; r++)
			for (int op = 0; op < NOPS; op++) {
				double t0 = now();
				run(&c, op);
				double t = now() - t0;
				if (r > 0 && t < best[op])
					best[op] = t;
			}
		double flops = 2.0 * s->n * s->h * s->w * s->c * s->k * 9;
		char sh[32];
		snprintf(sh, sizeof sh, "%dx%dx%d", s->h, s->w, s->c);
		static const char *pass[] = { "fwd", "dgrad", "wgrad" };
		for (int p = 0; p < 3; p++) {
			double b = best[p], w = best[W_FWD + p];
			printf("%-5d %-14s %-6s %9.2f %9.2f %9.1f %9.1f %6.2fx\n", st + 1, sh, pass[p],
			       b * 1e3, w * 1e3, flops / b * 1e-9, flops / w * 1e-9, b / w);
			tot[0] += b, tot[1] += w;
		}
		printf("%-5d %-14s %-6s %9s %9.2f   (both weight transforms, per update;"
		       " workspace %.1f MB)\n", st + 1, sh, "xform", "", best[W_XFORM] * 1e3,
		       cxr_wino_workspace_size(s->n, s->h, s->w, s->c, s->k) * 4e-6);
		free(c.x), free(c.dx), free(c.y), free(c.dy), free(c.w), free(c.dw), free(c.wt);
		free(c.col), free(c.U), free(c.Ub), free(c.ws);
	}
	printf("total %-19s %9.2f %9.2f %19s %6.2fx\n", "", tot[0] * 1e3, tot[1] * 1e3, "",
	       tot[0] / tot[1]);
	return 0;
}
