/* batchnorm — training and inference batch norm with fused residual and
 * ReLU (see batchnorm.h). Each pass is a row kernel (vectorised, cloned
 * per instruction set) run on contiguous blocks of rows, one per thread. */
#include "nn/batchnorm.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/parallel.h"
#include "nn/precision.h"

/* Which elements of dout pass the forward's ReLU: those where out (the
 * forward's output) is positive, or, when the forward had no residual,
 * where (x - mean) * scale + shift is (recomputed from x as the forward
 * did, sparing a read of out); all when neither is given. */
typedef struct relu_mask {
	const float *out;
	const float *mean, *scale, *shift;
} relu_mask;

/* Rows are summed in float in blocks of SUMBLOCK (vector-wide, exact
 * enough for a few dozen terms), each block's sums then added in double. */
#define SUMBLOCK 16

/* A tensor of rows of c values held in fp32 or in bf16 (BN_*_BF16). The
 * row kernels below work on fp32 rows: a bf16 tensor's rows are widened,
 * SUMBLOCK at a time, into a thread's scratch, and a bf16 output's rows
 * computed there and rounded, so each pass does exactly what it does on
 * fp32 tensors holding the same values (the same blocks of sums). */
typedef struct rows_ref {
	const void *p;
	int bf16;
} rows_ref;

static rows_ref ref_of(const void *p, int bf16)
{
	return (rows_ref){p, bf16};
}

CXR_CLONES static void widen(float *restrict dst, const uint16_t *restrict src, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		dst[i] = cxr_bf16_float(src[i]);
}

/* Rows [i, i + rows) of t as fp32: where they lie, or widened into buf
 * (SUMBLOCK * c floats); NULL for no tensor. */
static const float *rows_at(rows_ref t, size_t i, size_t rows, int c, float *buf)
{
	if (!t.p)
		return NULL;
	if (!t.bf16)
		return (const float *)t.p + i * c;
	widen(buf, (const uint16_t *)t.p + i * c, rows * c);
	return buf;
}

/* Per-thread scratch for three widened blocks of rows and an output block. */
static float *row_scratch(int nt, int c)
{
	return cxr_xmalloc((size_t)nt * 4 * SUMBLOCK * c * sizeof(float));
}

/* p0[j] += sum_i dz[i,j], p1[j] += sum_i dz[i,j] * x[i,j] over rows
 * [i0, i1), dz = dout masked by mk. f: scratch of 2c floats. */
CXR_CLONES static void rows_sums(double *restrict p0, double *restrict p1, float *restrict f,
				 const float *dout, const float *x, relu_mask mk, size_t i0,
				 size_t i1, int c)
{
	const float *mean = mk.mean, *scale = mk.scale, *shift = mk.shift;
	float *restrict f0 = f, *restrict f1 = f + c;
	for (size_t b0 = i0; b0 < i1; b0 += SUMBLOCK) {
		size_t b1 = b0 + SUMBLOCK < i1 ? b0 + SUMBLOCK : i1;
		for (int j = 0; j < c; j++)
			f0[j] = f1[j] = 0;
		for (size_t i = b0; i < b1; i++) {
			const float *ar = dout + i * c, *br = x + i * c;
			if (mk.out) {
				const float *mr = mk.out + i * c;
#pragma omp simd
				for (int j = 0; j < c; j++) {
					float v = mr[j] > 0 ? ar[j] : 0.0f;
					f0[j] += v;
					f1[j] += v * br[j];
				}
			} else if (scale) {
#pragma omp simd
				for (int j = 0; j < c; j++) {
					float v = (br[j] - mean[j]) * scale[j] + shift[j] > 0 ? ar[j] : 0.0f;
					f0[j] += v;
					f1[j] += v * br[j];
				}
			} else {
#pragma omp simd
				for (int j = 0; j < c; j++) {
					f0[j] += ar[j];
					f1[j] += ar[j] * br[j];
				}
			}
		}
#pragma omp simd
		for (int j = 0; j < c; j++) {
			p0[j] += f0[j];
			p1[j] += f1[j];
		}
	}
}

/* s0, s1 (c) = the sums of rows_sums over all m rows. Thread t sums its
 * block of rows; the blocks are added in thread order. */
static void colsums(double *s0, double *s1, rows_ref dout, rows_ref x, rows_ref out,
		    relu_mask mk, size_t m, int c)
{
	int nt = omp_get_max_threads();
	double *part = cxr_xcalloc((size_t)nt * 2 * c, sizeof *part);
	float *fs = cxr_xmalloc((size_t)nt * 2 * c * sizeof *fs);
	float *scr = dout.bf16 || x.bf16 || out.bf16 ? row_scratch(nt, c) : NULL;
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		size_t i0, i1;
		cxr_par_range(m, t, omp_get_num_threads(), &i0, &i1);
		double *p0 = part + (size_t)t * 2 * c, *p1 = p0 + c;
		float *f = fs + (size_t)t * 2 * c;
		if (!scr) {
			relu_mask k = mk;
			k.out = out.p;
			rows_sums(p0, p1, f, dout.p, x.p, k, i0, i1, c);
		} else {
			float *b = scr + (size_t)t * 4 * SUMBLOCK * c, *bx = b + SUMBLOCK * c;
			float *bo = bx + SUMBLOCK * c;
			for (size_t r = i0; r < i1; r += SUMBLOCK) {
				size_t n = i1 - r < SUMBLOCK ? i1 - r : SUMBLOCK;
				relu_mask k = mk;
				const float *d = rows_at(dout, r, n, c, b);
				const float *xr = x.p == dout.p ? d : rows_at(x, r, n, c, bx);
				k.out = rows_at(out, r, n, c, bo);
				rows_sums(p0, p1, f, d, xr, k, 0, n, c);
			}
		}
	}
	free(scr);
	free(fs);
	for (int j = 0; j < c; j++) {
		double a0 = 0, a1 = 0;
		for (int t = 0; t < nt; t++) {
			a0 += part[(size_t)t * 2 * c + j];
			a1 += part[(size_t)t * 2 * c + c + j];
		}
		s0[j] = a0, s1[j] = a1;
	}
	free(part);
}

/* out = [relu]((in - mean) * scale + shift [+ res]) for rows [i0, i1) */
CXR_CLONES static void rows_affine(float *out, const float *in, const float *restrict mean,
				   const float *restrict scale, const float *restrict shift,
				   const float *res, int relu, size_t i0, size_t i1, int c)
{
	for (size_t i = i0; i < i1; i++) {
		const float *x = in + i * c;
		float *y = out + i * c;
		if (res) {
			const float *r = res + i * c;
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (x[j] - mean[j]) * scale[j] + shift[j] + r[j];
				y[j] = relu && v < 0 ? 0.0f : v;
			}
		} else {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (x[j] - mean[j]) * scale[j] + shift[j];
				y[j] = relu && v < 0 ? 0.0f : v;
			}
		}
	}
}

/* rows_affine over all m rows, in, res and out each fp32 or bf16 (a bf16
 * out gets each fp32 result rounded once). */
static void affine(void *out, int out_bf16, rows_ref in, const float *mean, const float *scale,
		   const float *shift, rows_ref res, int relu, size_t m, int c)
{
	const int nt = omp_get_max_threads();
	float *scr = in.bf16 || res.bf16 || out_bf16 ? row_scratch(nt, c) : NULL;
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		size_t i0, i1;
		cxr_par_range(m, t, omp_get_num_threads(), &i0, &i1);
		if (!scr) {
			rows_affine(out, in.p, mean, scale, shift, res.p, relu, i0, i1, c);
		} else {
			float *b = scr + (size_t)t * 4 * SUMBLOCK * c, *br = b + SUMBLOCK * c;
			float *bo = br + SUMBLOCK * c;
			for (size_t r = i0; r < i1; r += SUMBLOCK) {
				size_t n = i1 - r < SUMBLOCK ? i1 - r : SUMBLOCK;
				const float *x = rows_at(in, r, n, c, b), *rr = rows_at(res, r, n, c, br);
				float *y = out_bf16 ? bo : (float *)out + r * c;
				rows_affine(y, x, mean, scale, shift, rr, relu, 0, n, c);
				if (out_bf16)
					cxr_bf16_round_n((uint16_t *)out + r * c, bo, n * c);
			}
		}
	}
	free(scr);
}

/* One channel's running update; the one expression both ways use. */
static inline void update_one(float *run_mean, float *run_var, double mu, double unbiased,
			      float momentum)
{
	*run_mean = (float)((1 - momentum) * *run_mean + momentum * mu);
	*run_var = (float)((1 - momentum) * *run_var + momentum * unbiased);
}

void bn_update_running(float *run_mean, float *run_var, const double *bmean,
		       const double *bvar, int c, float momentum)
{
	for (int j = 0; j < c; j++)
		update_one(run_mean + j, run_var + j, bmean[j], bvar[j], momentum);
}

/* The training forward's per-channel factor, in one place so that
 * bn_forward_replay and bn_backward's mask repeat its bits. */
static inline float train_scale(float gamma, float invstd)
{
	return gamma * invstd;
}

void bn_forward_train_act(void *out, float *mean, float *invstd, float *run_mean,
			  float *run_var, double *bmean, double *bvar, const void *in,
			  const float *gamma, const float *beta, const void *res, int relu,
			  size_t m, int c, float momentum, float eps, int io)
{
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	relu_mask none = {0};
	const rows_ref x = ref_of(in, !!(io & BN_IN_BF16));
	colsums(s0, s1, x, x, ref_of(NULL, 0), none, m, c);
	for (int j = 0; j < c; j++) {
		double mu = s0[j] / m, var = s1[j] / m - mu * mu;
		if (var < 0)
			var = 0;
		double unbiased = m > 1 ? var * m / (m - 1) : var;
		mean[j] = (float)mu;
		invstd[j] = (float)(1.0 / sqrt(var + eps));
		scale[j] = train_scale(gamma[j], invstd[j]);
		if (bmean)
			bmean[j] = mu;
		if (bvar)
			bvar[j] = unbiased;
		if (run_mean)
			update_one(run_mean + j, run_var + j, mu, unbiased, momentum);
	}
	affine(out, !!(io & BN_OUT_BF16), x, mean, scale, beta, ref_of(res, !!(io & BN_RES_BF16)),
	       relu, m, c);
	free(scale);
	free(s0);
}

void bn_forward_train_stats(float *out, float *mean, float *invstd, float *run_mean,
			    float *run_var, double *bmean, double *bvar, const float *in,
			    const float *gamma, const float *beta, const float *res, int relu,
			    size_t m, int c, float momentum, float eps)
{
	bn_forward_train_act(out, mean, invstd, run_mean, run_var, bmean, bvar, in, gamma, beta,
			     res, relu, m, c, momentum, eps, 0);
}

void bn_forward_replay_act(float *out, const void *in, const float *mean, const float *invstd,
			   const float *gamma, const float *beta, int relu, size_t m, int c, int io)
{
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	for (int j = 0; j < c; j++)
		scale[j] = train_scale(gamma[j], invstd[j]);
	affine(out, 0, ref_of(in, !!(io & BN_IN_BF16)), mean, scale, beta, ref_of(NULL, 0), relu,
	       m, c);
	free(scale);
}

void bn_forward_replay(float *out, const float *in, const float *mean, const float *invstd,
		       const float *gamma, const float *beta, int relu, size_t m, int c)
{
	bn_forward_replay_act(out, in, mean, invstd, gamma, beta, relu, m, c, 0);
}

void bn_forward_train(float *out, float *mean, float *invstd, float *run_mean, float *run_var,
		      const float *in, const float *gamma, const float *beta, const float *res,
		      int relu, size_t m, int c, float momentum, float eps)
{
	bn_forward_train_stats(out, mean, invstd, run_mean, run_var, NULL, NULL, in, gamma, beta,
			       res, relu, m, c, momentum, eps);
}

void bn_fold(float *scale, float *shift, const float *gamma, const float *beta,
	     const float *run_mean, const float *run_var, int c, float eps)
{
	for (int j = 0; j < c; j++) {
		scale[j] = (float)(gamma[j] / sqrt((double)run_var[j] + eps));
		shift[j] = beta[j] - run_mean[j] * scale[j];
	}
}

void bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
		     const float *run_mean, const float *run_var, const float *res, int relu,
		     size_t m, int c, float eps)
{
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	for (int j = 0; j < c; j++)
		scale[j] = (float)(gamma[j] / sqrt((double)run_var[j] + eps));
	affine(out, 0, ref_of(in, 0), run_mean, scale, beta, ref_of(res, 0), relu, m, c);
	free(scale);
}

/* din [+]= dz * k + (x - mean) * kx + k0, dz = dout masked by mk; with
 * acc 0, din is written without being read. dres (or NULL) = dz, where the
 * mask is the forward's output's. */
CXR_CLONES static void rows_bwd(float *din, float *dres, const float *dout, const float *in,
				relu_mask mk, const float *restrict k, const float *restrict kx,
				const float *restrict k0, int acc, size_t i0, size_t i1, int c)
{
	const float *mean = mk.mean, *scale = mk.scale, *shift = mk.shift;
	for (size_t i = i0; i < i1; i++) {
		const float *dy = dout + i * c, *x = in + i * c, *y = mk.out ? mk.out + i * c : NULL;
		float *dx = din + i * c;
		if (y && dres) { /* din may be dout: dz taken before dx is written */
			float *dr = dres + i * c;
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float dz = y[j] > 0 ? dy[j] : 0.0f;
				float v = dz * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
				dr[j] = dz;
				dx[j] = acc ? dx[j] + v : v;
			}
		} else if (y) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (y[j] > 0 ? dy[j] : 0.0f) * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
				dx[j] = acc ? dx[j] + v : v;
			}
		} else if (scale) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float xm = x[j] - mean[j];
				float dz = xm * scale[j] + shift[j] > 0 ? dy[j] : 0.0f;
				float v = dz * k[j] + xm * kx[j] + k0[j];
				dx[j] = acc ? dx[j] + v : v;
			}
		} else {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = dy[j] * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
				dx[j] = acc ? dx[j] + v : v;
			}
		}
	}
}

void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *out,
		 const float *in, const float *mean, const float *invstd, const float *gamma,
		 const float *beta, int relu, size_t m, int c, int acc)
{
	bn_backward_act(din, NULL, dgamma, dbeta, dout, out, in, mean, invstd, gamma, beta, relu, m,
			c, acc, 0);
}

void bn_backward_res(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
		     const float *out, const float *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc)
{
	bn_backward_act(din, dres, dgamma, dbeta, dout, out, in, mean, invstd, gamma, beta, relu, m,
			c, acc, 0);
}

void bn_backward_act(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
		     const void *out, const void *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc,
		     int io)
{
	if (dres && !(relu && out))
		cxr_die(CXR_EXIT_DATA, "bn_backward_res: the residual's gradient needs the ReLU's output");
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *k = cxr_xmalloc(4 * (size_t)c * sizeof *k), *kx = k + c, *k0 = kx + c;
	float *scale = k0 + c;
	relu_mask mk = {NULL, mean, NULL, NULL};
	const rows_ref x = ref_of(in, !!(io & BN_IN_BF16));
	const rows_ref y = ref_of(relu ? out : NULL, !!(io & BN_OUT_BF16));
	if (relu && out) {
		/* rows_sums and rows_bwd get y's rows */
	} else if (relu) {
		/* the forward's scale, computed as it did */
		for (int j = 0; j < c; j++)
			scale[j] = train_scale(gamma[j], invstd[j]);
		mk.scale = scale, mk.shift = beta;
	}
	colsums(s0, s1, ref_of(dout, 0), x, y, mk, m, c);
	for (int j = 0; j < c; j++) {
		/* sum dz*xhat, with xhat = (x - mean) * invstd */
		double is = invstd[j], sdx = (s1[j] - mean[j] * s0[j]) * is;
		double g = (double)gamma[j] * is;
		dgamma[j] += (float)sdx;
		dbeta[j] += (float)s0[j];
		/* din = g * (dz - mean(dz) - xhat * mean(dz*xhat)) */
		k[j] = (float)g;
		kx[j] = (float)(-g * is * sdx / m);
		k0[j] = (float)(-g * s0[j] / m);
	}
	const int nt = omp_get_max_threads();
	float *scr = x.bf16 || y.bf16 ? row_scratch(nt, c) : NULL;
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		size_t i0, i1;
		cxr_par_range(m, t, omp_get_num_threads(), &i0, &i1);
		if (!scr) {
			relu_mask kr = mk;
			kr.out = y.p;
			rows_bwd(din, dres, dout, x.p, kr, k, kx, k0, acc, i0, i1, c);
		} else {
			float *bx = scr + (size_t)t * 4 * SUMBLOCK * c, *by = bx + SUMBLOCK * c;
			for (size_t r = i0; r < i1; r += SUMBLOCK) {
				size_t n = i1 - r < SUMBLOCK ? i1 - r : SUMBLOCK;
				relu_mask kr = mk;
				kr.out = rows_at(y, r, n, c, by);
				rows_bwd(din + r * c, dres ? dres + r * c : NULL, dout + r * c,
					 rows_at(x, r, n, c, bx), kr, k, kx, k0, acc, 0, n, c);
			}
		}
	}
	free(scr);
	free(k);
	free(s0);
}
