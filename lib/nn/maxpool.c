/* maxpool — max pooling and global max pooling, NHWC (see maxpool.h). */
#include "nn/maxpool.h"

#include <float.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/cli.h"
#include "base/parallel.h"
#include "nn/precision.h"

int pool_out_size(int n, int k, int s, int p)
{
	return (n + 2 * p - k) / s + 1;
}

/* y, ix (c) = the first max over a window's taps: taps rows of c floats
 * at x + off[t] * c, positions pos[t]. ix may be NULL. */
CXR_CLONES static void window_max(float *restrict y, int32_t *restrict ix, const float *x,
				  const int *off, const int *pos, int taps, int c)
{
	const float *x0 = x + (size_t)off[0] * c;
#pragma omp simd
	for (int j = 0; j < c; j++)
		y[j] = x0[j];
	if (ix) {
#pragma omp simd
		for (int j = 0; j < c; j++)
			ix[j] = pos[0];
	}
	for (int t = 1; t < taps; t++) {
		const float *xt = x + (size_t)off[t] * c;
		const int32_t p = pos[t];
		if (ix) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				int gt = xt[j] > y[j];
				ix[j] = gt ? p : ix[j];
				y[j] = gt ? xt[j] : y[j];
			}
		} else {
#pragma omp simd
			for (int j = 0; j < c; j++)
				y[j] = xt[j] > y[j] ? xt[j] : y[j];
		}
	}
}

/* Output q's window: the in-image offsets (off) and positions (pos) of
 * its taps inside the image, at most 64; returns their count and sets
 * *b, its image. */
static int window_taps(long q, int h, int w, int oh, int ow, int k, int s, int p, int *off,
		       int *pos, int *b)
{
	int oy = (int)(q / ow % oh), ox = (int)(q % ow), taps = 0;
	*b = (int)(q / ((long)oh * ow));
	for (int ky = 0; ky < k; ky++) {
		int iy = oy * s - p + ky;
		if (iy < 0 || iy >= h)
			continue;
		for (int kx = 0; kx < k; kx++) {
			int ixx = ox * s - p + kx;
			if (ixx < 0 || ixx >= w || taps == 64)
				continue;
			pos[taps] = iy * w + ixx;
			off[taps++] = iy * w + ixx;
		}
	}
	return taps;
}

void maxpool_forward(float *out, int32_t *idx, const float *in, int n, int h, int w, int c,
		     int k, int s, int p)
{
	const int oh = pool_out_size(h, k, s, p), ow = pool_out_size(w, k, s, p);
	const long np = (long)n * oh * ow;
#pragma omp parallel for schedule(static)
	for (long q = 0; q < np; q++) {
		int off[64], pos[64], b;
		int taps = window_taps(q, h, w, oh, ow, k, s, p, off, pos, &b);
		window_max(out + q * c, idx ? idx + q * c : NULL, in + (size_t)b * h * w * c, off,
			   pos, taps, c);
	}
}

void maxpool_forward_bf16(uint16_t *out, int32_t *idx, const float *in, int n, int h, int w,
			  int c, int k, int s, int p)
{
	const int oh = pool_out_size(h, k, s, p), ow = pool_out_size(w, k, s, p);
	const long np = (long)n * oh * ow;
#pragma omp parallel
	{
		float *y = cxr_xmalloc((size_t)c * sizeof *y);
#pragma omp for schedule(static)
		for (long q = 0; q < np; q++) {
			int off[64], pos[64], b;
			int taps = window_taps(q, h, w, oh, ow, k, s, p, off, pos, &b);
			window_max(y, idx ? idx + q * c : NULL, in + (size_t)b * h * w * c, off, pos,
				   taps, c);
			cxr_bf16_round_n(out + q * c, y, (size_t)c);
		}
		free(y);
	}
}

/* Element i of x, fp32 or (bf16) bf16. */
static inline float value_at(const void *x, size_t i, int bf16)
{
	return bf16 ? cxr_bf16_float(((const uint16_t *)x)[i]) : ((const float *)x)[i];
}

/* maxpool_backward from dout held in fp32 or (bf16) bf16. */
static void pool_backward(float *din, const void *dout, int bf16, const int32_t *idx, int n,
			  int h, int w, int c, int oh, int ow)
{
	/* each image's outputs scatter into that image only */
#pragma omp parallel for schedule(static)
	for (int b = 0; b < n; b++) {
		float *dx = din + (size_t)b * h * w * c;
		const size_t y0 = (size_t)b * oh * ow * c;
		const int32_t *ix = idx + y0;
		for (long q = 0; q < (long)oh * ow; q++)
			for (int j = 0; j < c; j++)
				dx[(size_t)ix[q * c + j] * c + j] += value_at(dout, y0 + q * c + j, bf16);
	}
}

void maxpool_backward(float *din, const float *dout, const int32_t *idx, int n, int h, int w,
		      int c, int oh, int ow)
{
	pool_backward(din, dout, 0, idx, n, h, w, c, oh, ow);
}

void maxpool_backward_bf16(float *din, const uint16_t *dout, const int32_t *idx, int n, int h,
			   int w, int c, int oh, int ow)
{
	pool_backward(din, dout, 1, idx, n, h, w, c, oh, ow);
}

CXR_CLONES static void bf16_row_max(float *restrict y, const uint16_t *restrict x, int c)
{
#pragma omp simd
	for (int j = 0; j < c; j++) {
		float v = cxr_bf16_float(x[j]);
		y[j] = v > y[j] ? v : y[j];
	}
}

/* gmaxpool_forward over in held in fp32 or bf16. */
static void gmaxpool(float *out, int32_t *idx, const void *in, int bf16, int n, int hw, int c)
{
#pragma omp parallel for schedule(static)
	for (int b = 0; b < n; b++) {
		const size_t x0 = (size_t)b * hw * c;
		float *y = out + (size_t)b * c;
		int32_t *ix = idx ? idx + (size_t)b * c : 0;
		for (int j = 0; j < c; j++)
			y[j] = value_at(in, x0 + j, bf16);
		if (ix)
			for (int j = 0; j < c; j++)
				ix[j] = 0;
		for (int q = 1; q < hw; q++) {
			const size_t r = x0 + (size_t)q * c;
			if (ix) {
				for (int j = 0; j < c; j++) {
					float v = value_at(in, r + j, bf16);
					if (v > y[j])
						y[j] = v, ix[j] = q;
				}
			} else if (bf16) {
				bf16_row_max(y, (const uint16_t *)in + r, c);
			} else {
				const float *xr = (const float *)in + r;
				for (int j = 0; j < c; j++)
					y[j] = xr[j] > y[j] ? xr[j] : y[j];
			}
		}
	}
}

void gmaxpool_forward(float *out, int32_t *idx, const float *in, int n, int hw, int c)
{
	gmaxpool(out, idx, in, 0, n, hw, c);
}

void gmaxpool_forward_bf16(float *out, int32_t *idx, const uint16_t *in, int n, int hw, int c)
{
	gmaxpool(out, idx, in, 1, n, hw, c);
}

void gmaxpool_backward(float *din, const float *dout, const int32_t *idx, int n, int hw, int c)
{
	for (int b = 0; b < n; b++)
		for (int j = 0; j < c; j++)
			din[((size_t)b * hw + idx[(size_t)b * c + j]) * c + j] += dout[(size_t)b * c + j];
}

void gmaxpool_backward_bf16(uint16_t *din, const float *dout, const int32_t *idx, int n, int hw,
			    int c)
{
	for (int b = 0; b < n; b++)
		for (int j = 0; j < c; j++) {
			uint16_t *d = din + ((size_t)b * hw + idx[(size_t)b * c + j]) * c + j;
			*d = cxr_bf16_round(cxr_bf16_float(*d) + dout[(size_t)b * c + j]);
		}
}
