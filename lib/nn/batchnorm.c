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
static void colsums(double *s0, double *s1, const float *dout, const float *x, relu_mask mk,
		    size_t m, int c)
{
	int nt = omp_get_max_threads();
	double *part = cxr_xcalloc((size_t)nt * 2 * c, sizeof *part);
	float *fs = cxr_xmalloc((size_t)nt * 2 * c * sizeof *fs);
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		size_t i0, i1;
		cxr_par_range(m, t, omp_get_num_threads(), &i0, &i1);
		rows_sums(part + (size_t)t * 2 * c, part + (size_t)t * 2 * c + c,
			  fs + (size_t)t * 2 * c, dout, x, mk, i0, i1, c);
	}
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

static void affine(float *out, const float *in, const float *mean, const float *scale,
		   const float *shift, const float *res, int relu, size_t m, int c)
{
#pragma omp parallel
	{
		size_t i0, i1;
		cxr_par_range(m, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		rows_affine(out, in, mean, scale, shift, res, relu, i0, i1, c);
	}
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

void bn_forward_train_stats(float *out, float *mean, float *invstd, float *run_mean,
			    float *run_var, double *bmean, double *bvar, const float *in,
			    const float *gamma, const float *beta, const float *res, int relu,
			    size_t m, int c, float momentum, float eps)
{
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	relu_mask none = {0};
	colsums(s0, s1, in, in, none, m, c);
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
	affine(out, in, mean, scale, beta, res, relu, m, c);
	free(scale);
	free(s0);
}

void bn_forward_replay(float *out, const float *in, const float *mean, const float *invstd,
		       const float *gamma, const float *beta, int relu, size_t m, int c)
{
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	for (int j = 0; j < c; j++)
		scale[j] = train_scale(gamma[j], invstd[j]);
	affine(out, in, mean, scale, beta, NULL, relu, m, c);
	free(scale);
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
	affine(out, in, run_mean, scale, beta, res, relu, m, c);
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
		if (y) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (y[j] > 0 ? dy[j] : 0.0f) * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
				dx[j] = acc ? dx[j] + v : v;
			}
			if (dres) { /* from the row just read, still in cache */
				float *dr = dres + i * c;
#pragma omp simd
				for (int j = 0; j < c; j++)
					dr[j] = y[j] > 0 ? dy[j] : 0.0f;
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
	bn_backward_res(din, NULL, dgamma, dbeta, dout, out, in, mean, invstd, gamma, beta, relu, m,
			c, acc);
}

void bn_backward_res(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
		     const float *out, const float *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc)
{
	if (dres && !(relu && out))
		cxr_die(CXR_EXIT_DATA, "bn_backward_res: the residual's gradient needs the ReLU's output");
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *k = cxr_xmalloc(4 * (size_t)c * sizeof *k), *kx = k + c, *k0 = kx + c;
	float *scale = k0 + c;
	relu_mask mk = {NULL, mean, NULL, NULL};
	if (relu && out) {
		mk.out = out;
	} else if (relu) {
		/* the forward's scale, computed as it did */
		for (int j = 0; j < c; j++)
			scale[j] = train_scale(gamma[j], invstd[j]);
		mk.scale = scale, mk.shift = beta;
	}
	colsums(s0, s1, dout, in, mk, m, c);
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
#pragma omp parallel
	{
		size_t i0, i1;
		cxr_par_range(m, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		rows_bwd(din, dres, dout, in, mk, k, kx, k0, acc, i0, i1, c);
	}
	free(k);
	free(s0);
}
