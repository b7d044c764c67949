/* conv — im2col + sgemm convolution on NHWC activations (see conv.h). */
#include "nn/conv.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

#include "nn/gemm.h"
#include "nn/precision.h"
#include "base/parallel.h"

/* One im2col chunk: 2M floats (8 MB) keeps the GEMM's M in the thousands
 * for every layer of the network while the workspace stays small. */
static size_t chunk_floats = (size_t)1 << 21;

void conv_set_chunk(size_t floats)
{
	chunk_floats = floats ? floats : (size_t)1 << 21;
}

void conv_dims_set(conv_dims *d, int n, int h, int w, int c, int o, int k, int stride, int pad)
{
	d->n = n, d->h = h, d->w = w, d->c = c;
	d->o = o, d->kh = k, d->kw = k;
	d->stride = stride, d->pad = pad;
	d->oh = (h + 2 * pad - k) / stride + 1;
	d->ow = (w + 2 * pad - k) / stride + 1;
	d->prec = CXR_PREC_FP32;
}

int conv_is_pointwise(const conv_dims *d)
{
	return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

/* Output rows (of OW pixels each) per im2col chunk. */
static int chunk_rows(const conv_dims *d)
{
	size_t row = (size_t)d->ow * d->kh * d->kw * d->c;
	size_t r = chunk_floats / row;
	size_t total = (size_t)d->n * d->oh;
	if (r < 1)
		r = 1;
	return (int)(r < total ? r : total);
}

size_t conv_workspace(const conv_dims *d)
{
	if (conv_is_pointwise(d))
		return 0;
	return (size_t)chunk_rows(d) * d->ow * d->kh * d->kw * d->c;
}

/* conv_im2col for elements of es bytes (4: fp32, 2: bf16). */
static void im2col(void *col, const void *in, const conv_dims *d, int r0, int r1, size_t es)
{
	const int h = d->h, w = d->w, c = d->c, kh = d->kh, kw = d->kw;
	const int oh = d->oh, ow = d->ow, s = d->stride, pad = d->pad;
	const size_t K = (size_t)kh * kw * c, run = (size_t)kw * c * es, px = (size_t)c * es;
	const long np = (long)(r1 - r0) * ow;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < np; p++) {
		int r = r0 + (int)(p / ow), ox = (int)(p % ow);
		int n = r / oh, oy = r % oh;
		int iy0 = oy * s - pad, ix0 = ox * s - pad;
		int k0 = ix0 < 0 ? -ix0 : 0;
		int k1 = w - ix0 < kw ? w - ix0 : kw;
		char *dst = (char *)col + p * K * es;
		for (int ky = 0; ky < kh; ky++, dst += run) {
			int iy = iy0 + ky;
			if (iy < 0 || iy >= h || k0 >= k1) {
				memset(dst, 0, run);
				continue;
			}
			const char *src = (const char *)in + (((size_t)n * h + iy) * w + ix0 + k0) * px;
			if (k0 > 0)
				memset(dst, 0, (size_t)k0 * px);
			memcpy(dst + (size_t)k0 * px, src, (size_t)(k1 - k0) * px);
			if (k1 < kw)
				memset(dst + (size_t)k1 * px, 0, (size_t)(kw - k1) * px);
		}
	}
}

void conv_im2col(float *col, const float *in, const conv_dims *d, int r0, int r1)
{
	im2col(col, in, d, r0, r1, sizeof(float));
}

CXR_CLONES static void add_to(float *restrict d, const float *restrict s, int n)
{
#pragma omp simd
	for (int i = 0; i < n; i++)
		d[i] += s[i];
}

/* The adjoint of conv_im2col, as a gather: each thread owns whole input
 * rows and collects every tap that read them, so no two threads write
 * the same element. */
void conv_col2im(float *din, const float *dcol, const conv_dims *d, int r0, int r1)
{
	const int h = d->h, w = d->w, c = d->c, kh = d->kh, kw = d->kw;
	const int oh = d->oh, ow = d->ow, s = d->stride, pad = d->pad;
	const size_t K = (size_t)kh * kw * c;
	const long g0 = (long)(r0 / oh) * h, g1 = (long)((r1 - 1) / oh + 1) * h;
#pragma omp parallel for schedule(static)
	for (long g = g0; g < g1; g++) {
		int n = (int)(g / h), iy = (int)(g % h);
		float *drow = din + (size_t)g * w * c;
		for (int ky = 0; ky < kh; ky++) {
			int t = iy + pad - ky;
			if (t < 0 || t % s)
				continue;
			long r = (long)n * oh + t / s;
			if (t / s >= oh || r < r0 || r >= r1)
				continue;
			const float *src = dcol + (size_t)(r - r0) * ow * K + (size_t)ky * kw * c;
			for (int ox = 0; ox < ow; ox++, src += K) {
				int ix0 = ox * s - pad;
				int k0 = ix0 < 0 ? -ix0 : 0;
				int k1 = w - ix0 < kw ? w - ix0 : kw;
				for (int kx = k0; kx < k1; kx++)
					add_to(drow + (size_t)(ix0 + kx) * c, src + (size_t)kx * c, c);
			}
		}
	}
}

CXR_CLONES static void rows_bias_relu(float *x, const float *restrict bias, int relu, size_t i0,
				      size_t i1, int o)
{
	for (size_t i = i0; i < i1; i++) {
		float *row = x + i * o;
		if (bias && relu) {
#pragma omp simd
			for (int j = 0; j < o; j++) {
				float v = row[j] + bias[j];
				row[j] = v > 0 ? v : 0.0f;
			}
		} else if (bias) {
#pragma omp simd
			for (int j = 0; j < o; j++)
				row[j] += bias[j];
		} else {
#pragma omp simd
			for (int j = 0; j < o; j++)
				row[j] = row[j] > 0 ? row[j] : 0.0f;
		}
	}
}

void conv_bias_relu(float *x, const float *bias, int relu, size_t m, int o)
{
	if (!bias && !relu)
		return;
#pragma omp parallel
	{
		size_t i0, i1;
		cxr_par_range(m, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		rows_bias_relu(x, bias, relu, i0, i1, o);
	}
}

/* p (o) += the column sums of rows [i0, i1) of x (m, o): in float over
 * blocks of 16 rows (vector-wide, exact enough for 16 terms), each block's
 * sums added in double. f: scratch of o floats. */
CXR_CLONES static void rows_colsum(double *restrict p, float *restrict f, const float *x,
				   size_t i0, size_t i1, int o)
{
	for (size_t b0 = i0; b0 < i1; b0 += 16) {
		size_t b1 = b0 + 16 < i1 ? b0 + 16 : i1;
		for (int j = 0; j < o; j++)
			f[j] = 0;
		for (size_t i = b0; i < b1; i++) {
			const float *r = x + i * o;
#pragma omp simd
			for (int j = 0; j < o; j++)
				f[j] += r[j];
		}
#pragma omp simd
		for (int j = 0; j < o; j++)
			p[j] += f[j];
	}
}

void conv_bias_backward(float *dbias, const float *dout, size_t m, int o)
{
	int nt = omp_get_max_threads();
	double *part = cxr_xcalloc((size_t)nt * o, sizeof *part);
	float *fs = cxr_xmalloc((size_t)nt * o * sizeof *fs);
#pragma omp parallel num_threads(nt)
	{
		int t = omp_get_thread_num();
		size_t i0, i1;
		cxr_par_range(m, t, omp_get_num_threads(), &i0, &i1);
		rows_colsum(part + (size_t)t * o, fs + (size_t)t * o, dout, i0, i1, o);
	}
	free(fs);
	for (int j = 0; j < o; j++) {
		double s = 0;
		for (int t = 0; t < nt; t++)
			s += part[(size_t)t * o + j];
		dbias[j] += (float)s;
	}
	free(part);
}

/* y (m,o) = [y +] a (m,K) weight^T [+ bias] [ReLU], from the weights as
 * they are or packed (where the bias and ReLU come with the product's
 * stores instead of another pass over y, and a and y may be bf16 as
 * flags say). */
static void weight_product(const conv_dims *d, int m, const void *a, const float *weight,
			   const float *packed, int flags, const float *bias, void *y,
			   double *stats)
{
	const int o = d->o, K = d->kh * d->kw * d->c;
	const int accum = !!(flags & CONV_ACCUM), relu = !!(flags & CONV_RELU);
	if (flags & (CONV_IN_BF16 | CONV_OUT_BF16)) {
		cxr_gemm_prepacked_stats(m, o, K, a, !!(flags & CONV_IN_BF16), K, packed, accum, bias,
					 relu, y, !!(flags & CONV_OUT_BF16), o, stats);
		return;
	}
	if (packed) {
		cxr_gemm_prepacked(d->prec, 0, m, o, K, a, K, packed, accum, bias, relu, y, o, stats);
		return;
	}
	if (stats)
		cxr_die(CXR_EXIT_DATA, "internal error: the output sums of a convolution whose "
			"weights are not packed");
	cxr_gemm_prec(d->prec, 0, 1, m, o, K, a, K, weight, K, accum, y, o);
	conv_bias_relu(y, bias, relu, (size_t)m, o);
}

static void forward(void *out, const void *in, const float *weight, const float *packed,
		    const float *bias, const conv_dims *d, float *ws, int flags, double *stats)
{
	const size_t ies = flags & CONV_IN_BF16 ? 2 : 4, oes = flags & CONV_OUT_BF16 ? 2 : 4;
	if ((flags & (CONV_IN_BF16 | CONV_OUT_BF16)) && (!packed || d->prec != CXR_PREC_BF16))
		cxr_die(CXR_EXIT_DATA, "internal error: bf16 activations for a convolution whose "
			"weights are not packed for bf16");
	if (conv_is_pointwise(d)) {
		int m = d->n * d->h * d->w;
		weight_product(d, m, in, weight, packed, flags, bias, out, stats);
		return;
	}
	const int rows = d->n * d->oh, R = chunk_rows(d);
	for (int r0 = 0; r0 < rows; r0 += R) {
		int r1 = r0 + R < rows ? r0 + R : rows;
		int m = (r1 - r0) * d->ow;
		im2col(ws, in, d, r0, r1, ies);
		weight_product(d, m, ws, weight, packed, flags, bias,
			       (char *)out + (size_t)r0 * d->ow * d->o * oes, stats);
	}
}

void conv_forward(float *out, const float *in, const float *weight, const float *bias,
		  const conv_dims *d, float *ws, int flags)
{
	forward(out, in, weight, NULL, bias, d, ws, flags, NULL);
}

size_t conv_packed_size(const conv_dims *d)
{
	return cxr_gemm_packed_size(d->prec, d->o, d->kh * d->kw * d->c);
}

void conv_pack_weights(float *packed, const float *weight, const conv_dims *d)
{
	const int K = d->kh * d->kw * d->c;
	cxr_gemm_pack_b(d->prec, 1, d->o, K, weight, K, packed);
}

void conv_forward_packed(void *out, const void *in, const float *packed, const float *bias,
			 const conv_dims *d, float *ws, int flags)
{
	forward(out, in, NULL, packed, bias, d, ws, flags, NULL);
}

void conv_forward_packed_stats(void *out, const void *in, const float *packed,
			       const float *bias, const conv_dims *d, float *ws, int flags,
			       double *stats)
{
	forward(out, in, NULL, packed, bias, d, ws, flags, stats);
}

/* dW (O,K) += dout^T (O,M) col (M,K), dout (row stride ldo) and col fp32
 * or bf16. */
static void weight_grad(const conv_dims *d, int m, const void *dout, int dout16, int ldo,
			const void *col, int col16, float *dweight)
{
	const int o = d->o, K = d->kh * d->kw * d->c;
	if (dout16 || col16)
		cxr_gemm_bf16_act(1, 0, o, K, m, dout, dout16, ldo, col, col16, K, 1.0f, dweight, 0,
				  K);
	else
		cxr_gemm_prec(d->prec, 1, 0, o, K, m, dout, ldo, col, K, 1.0f, dweight, K);
}

/* dx (M,K) [+]= dout (M,O) W (O,K), dout (row stride ldo) fp32 or bf16,
 * dx fp32 or (dx16) bf16. */
static void input_grad(const conv_dims *d, int m, const void *dout, int dout16, int ldo,
		       const float *weight, int acc, void *dx, int dx16)
{
	const int o = d->o, K = d->kh * d->kw * d->c;
	if (dout16 || dx16)
		cxr_gemm_bf16_act(0, 0, m, K, o, dout, dout16, ldo, weight, 0, K, acc, dx, dx16, K);
	else
		cxr_gemm_prec(d->prec, 0, 0, m, K, o, dout, ldo, weight, K, acc, dx, K);
}

void conv_backward(float *din, float *dweight, const float *dout, const float *in,
		   const float *weight, const conv_dims *d, float *ws, int acc)
{
	conv_backward_act(din, dweight, dout, in, weight, d, ws, acc ? CONV_ACCUM : 0);
}

/* din16 = round(din16 + col2im(dcol)) for output rows [r0, r1) of a 1x1
 * convolution, whose taps never meet: each element gets one gradient,
 * rounded once. */
static void col2im_1x1_bf16(uint16_t *din16, const float *dcol, const conv_dims *d, int r0,
			    int r1)
{
	const int h = d->h, w = d->w, c = d->c, oh = d->oh, ow = d->ow, s = d->stride;
#pragma omp parallel for schedule(static)
	for (int r = r0; r < r1; r++) {
		const int n = r / oh, iy = (r % oh) * s - d->pad;
		if (iy < 0 || iy >= h)
			continue;
		for (int ox = 0; ox < ow; ox++) {
			const int ix = ox * s - d->pad;
			if (ix < 0 || ix >= w)
				continue;
			uint16_t *dx = din16 + (((size_t)n * h + iy) * w + ix) * c;
			const float *g = dcol + ((size_t)(r - r0) * ow + ox) * c;
			for (int j = 0; j < c; j++)
				dx[j] = cxr_bf16_round(cxr_bf16_float(dx[j]) + g[j]);
		}
	}
}

void conv_backward_act(void *din, float *dweight, const void *dout, const void *in,
		       const float *weight, const conv_dims *d, float *ws, int flags)
{
	const int o = d->o, acc = !!(flags & CONV_ACCUM);
	const int in16 = !!(flags & CONV_IN_BF16), dout16 = !!(flags & CONV_DOUT_BF16);
	const int din16 = !!(flags & CONV_DIN_BF16);
	/* a bf16 dout's rows lie at fp32 rows' stride, or dense (conv.h) */
	const int ldo = dout16 && !(flags & CONV_DOUT_DENSE) ? 2 * o : o;
	const size_t dout_es = dout16 ? 2 : 4, din_es = din16 ? 2 : 4;
	if ((in16 || dout16 || din16) && d->prec != CXR_PREC_BF16)
		cxr_die(CXR_EXIT_DATA, "internal error: bf16 tensors for an fp32 convolution");
	if (conv_is_pointwise(d)) {
		int m = d->n * d->h * d->w;
		weight_grad(d, m, dout, dout16, ldo, in, in16, dweight);
		/* din (M,C) += dout (M,O) W (O,C) */
		if (din)
			input_grad(d, m, dout, dout16, ldo, weight, acc, din, din16);
		return;
	}
	if (din && din16 && (d->kh != 1 || d->kw != 1))
		cxr_die(CXR_EXIT_DATA, "internal error: a bf16 input gradient for a %dx%d convolution",
			d->kh, d->kw);
	const int rows = d->n * d->oh, R = chunk_rows(d);
	if (din && !acc) {
		size_t nin = (size_t)d->n * d->h * d->w * d->c * din_es;
#pragma omp parallel
		{
			size_t i0, i1;
			cxr_par_range(nin, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
			memset((char *)din + i0, 0, i1 - i0);
		}
	}
	for (int r0 = 0; r0 < rows; r0 += R) {
		int r1 = r0 + R < rows ? r0 + R : rows;
		int m = (r1 - r0) * d->ow;
		const void *dy = (const char *)dout + (size_t)r0 * d->ow * ldo * dout_es;
		im2col(ws, in, d, r0, r1, in16 ? 2 : 4);
		weight_grad(d, m, dy, dout16, ldo, ws, in16, dweight);
		if (!din)
			continue;
		/* the same workspace now takes dcol (M,K) = dout (M,O) W (O,K) */
		input_grad(d, m, dy, dout16, ldo, weight, 0, ws, 0);
		if (din16)
			col2im_1x1_bf16(din, ws, d, r0, r1);
		else
			conv_col2im(din, ws, d, r0, r1);
	}
}
