/* batchnorm — training and inference batch norm with fused residual and
 * ReLU (see batchnorm.h). */
#include "batchnorm.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* s0[j] = sum_i a[i,j], s1[j] = sum_i a[i,j] * b[i,j] over m rows, where
 * a is zeroed where mask (if given) is not positive. Each thread sums a
 * contiguous block of rows; the blocks are added in order. */
static void colsums(double *s0, double *s1, const float *a, const float *mask, const float *b,
		    size_t m, int c)
{
	int nt = omp_get_max_threads();
	double *part = cxr_xcalloc((size_t)nt * 2 * c, sizeof *part);
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num(), T = omp_get_num_threads();
		double *p0 = part + (size_t)t * 2 * c, *p1 = p0 + c;
		size_t i0 = m * t / T, i1 = m * (t + 1) / T;
		for (size_t i = i0; i < i1; i++) {
			const float *ar = a + i * c, *br = b + i * c;
			if (mask) {
				const float *mr = mask + i * c;
				for (int j = 0; j < c; j++) {
					double v = mr[j] > 0 ? ar[j] : 0.0f;
					p0[j] += v;
					p1[j] += v * br[j];
				}
			} else {
				for (int j = 0; j < c; j++) {
					double v = ar[j];
					p0[j] += v;
					p1[j] += v * br[j];
				}
			}
		}
	}
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

/* out = [relu]((in - mean) * scale + shift [+ res]) */
static void affine(float *out, const float *in, const float *mean, const float *scale,
		   const float *shift, const float *res, int relu, size_t m, int c)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < m; i++) {
		const float *x = in + i * c;
		float *y = out + i * c;
		if (res) {
			const float *r = res + i * c;
			for (int j = 0; j < c; j++)
				y[j] = (x[j] - mean[j]) * scale[j] + shift[j] + r[j];
		} else {
			for (int j = 0; j < c; j++)
				y[j] = (x[j] - mean[j]) * scale[j] + shift[j];
		}
		if (relu)
			for (int j = 0; j < c; j++)
				y[j] = y[j] > 0 ? y[j] : 0;
	}
}

void bn_forward_train(float *out, float *mean, float *invstd, float *run_mean, float *run_var,
		      const float *in, const float *gamma, const float *beta, const float *res,
		      int relu, size_t m, int c, float momentum, float eps)
{
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	colsums(s0, s1, in, NULL, in, m, c);
	for (int j = 0; j < c; j++) {
		double mu = s0[j] / m, var = s1[j] / m - mu * mu;
		if (var < 0)
			var = 0;
		double unbiased = m > 1 ? var * m / (m - 1) : var;
		mean[j] = (float)mu;
		invstd[j] = (float)(1.0 / sqrt(var + eps));
		scale[j] = gamma[j] * invstd[j];
		run_mean[j] = (float)((1 - momentum) * run_mean[j] + momentum * mu);
		run_var[j] = (float)((1 - momentum) * run_var[j] + momentum * unbiased);
	}
	affine(out, in, mean, scale, beta, res, relu, m, c);
	free(scale);
	free(s0);
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

void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *out,
		 const float *in, const float *mean, const float *invstd, const float *gamma,
		 size_t m, int c)
{
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	float *k = cxr_xmalloc(3 * (size_t)c * sizeof *k), *kx = k + c, *k0 = kx + c;
	colsums(s0, s1, dout, out, in, m, c);
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
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < m; i++) {
		const float *dy = dout + i * c, *x = in + i * c;
		float *dx = din + i * c;
		if (out) {
			const float *y = out + i * c;
			for (int j = 0; j < c; j++) {
				float dz = y[j] > 0 ? dy[j] : 0.0f;
				dx[j] += dz * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
			}
		} else {
			for (int j = 0; j < c; j++)
				dx[j] += dy[j] * k[j] + (x[j] - mean[j]) * kx[j] + k0[j];
		}
	}
	free(k);
	free(s0);
}
