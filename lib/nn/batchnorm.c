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
	const void *out;
	const float *mean, *scale, *shift;
} relu_mask;

/* Rows are summed in float in blocks of SUMBLOCK (vector-wide, exact
 * enough for a few dozen terms), each block's sums then added in double. */
#define SUMBLOCK 16

/* Tensors of rows of c values are held in fp32 or in bf16 (BN_*_BF16):
 * each row kernel's body below reads element j of a row through ld(),
 * and is instantiated (always inlined, with constant flags) for each mix
 * the network uses, so a bf16 row is widened in registers as it is read
 * and each pass does exactly what it does on fp32 tensors holding the
 * same values. */
#define BODY static inline __attribute__((always_inline))

BODY float ld(const void *row, int j, int bf16)
{
	return bf16 ? cxr_bf16_float(((const uint16_t *)row)[j]) : ((const float *)row)[j];
}

/* row[j] = v, row fp32 or bf16 (v rounded, precision.h); a bf16 value
 * stored bytewise, as memory of any type (a bf16 gradient's rows lie over
 * the fp32 rows they come from: bn_backward_act). */
BODY void st(void *row, int j, float v, int bf16)
{
	if (bf16) {
		uint16_t h = cxr_bf16_round(v);
		memcpy((uint16_t *)row + j, &h, sizeof h);
	} else {
		((float *)row)[j] = v;
	}
}

/* Row i of rows of c values, fp32 or bf16. */
BODY const void *row_at(const void *p, size_t i, int c, int bf16)
{
	return bf16 ? (const void *)((const uint16_t *)p + i * c) : (const void *)((const float *)p + i * c);
}

/* p0[j] += sum_i dz[i,j], p1[j] += sum_i dz[i,j] * x[i,j] over rows
 * [i0, i1), dz = dout masked by mk; dout (db), x (xb) and mk.out (ob)
 * fp32 or bf16. f: scratch of 2c floats. */
BODY void sums_body(double *restrict p0, double *restrict p1, float *restrict f,
		    const void *dout, const void *x, relu_mask mk, size_t i0, size_t i1, int c,
		    int db, int xb, int ob)
{
	const float *mean = mk.mean, *scale = mk.scale, *shift = mk.shift;
	float *restrict f0 = f, *restrict f1 = f + c;
	for (size_t b0 = i0; b0 < i1; b0 += SUMBLOCK) {
		size_t b1 = b0 + SUMBLOCK < i1 ? b0 + SUMBLOCK : i1;
		for (int j = 0; j < c; j++)
			f0[j] = f1[j] = 0;
		for (size_t i = b0; i < b1; i++) {
			const void *ar = row_at(dout, i, c, db), *br = row_at(x, i, c, xb);
			if (mk.out) {
				const void *mr = row_at(mk.out, i, c, ob);
#pragma omp simd
				for (int j = 0; j < c; j++) {
					float v = ld(mr, j, ob) > 0 ? ld(ar, j, db) : 0.0f;
					f0[j] += v;
					f1[j] += v * ld(br, j, xb);
				}
			} else if (scale) {
#pragma omp simd
				for (int j = 0; j < c; j++) {
					float xv = ld(br, j, xb);
					float v = (xv - mean[j]) * scale[j] + shift[j] > 0 ? ld(ar, j, db) : 0.0f;
					f0[j] += v;
					f1[j] += v * xv;
				}
			} else {
#pragma omp simd
				for (int j = 0; j < c; j++) {
					float v = ld(ar, j, db);
					f0[j] += v;
					f1[j] += v * ld(br, j, xb);
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

/* A pass's mix: which of its tensors are bf16 (the rest fp32), as bits:
 * dout (the statistics' pass reads in as dout and x), x (the batch
 * norm's input), the mask's out, din. Every mix is instantiated. */
enum { MIX_DOUT = 1, MIX_X = 2, MIX_OUT = 4, MIX_DIN = 8 };
#define MIX_BIT(mix, b) (((mix) & (b)) != 0)

CXR_CLONES static void rows_sums(double *restrict p0, double *restrict p1, float *restrict f,
				 const void *dout, const void *x, relu_mask mk, size_t i0,
				 size_t i1, int c, int mix)
{
	switch (mix & (MIX_DOUT | MIX_X | MIX_OUT)) {
#define SUMS(mx)                                                                           \
	case mx:                                                                           \
		sums_body(p0, p1, f, dout, x, mk, i0, i1, c, MIX_BIT(mx, MIX_DOUT),         \
			  MIX_BIT(mx, MIX_X), MIX_BIT(mx, MIX_OUT));                        \
		break;
		SUMS(0) SUMS(1) SUMS(2) SUMS(3) SUMS(4) SUMS(5) SUMS(6) SUMS(7)
#undef SUMS
	}
}

/* s0, s1 (c) = the nt threads' partial sums part added in thread order:
 * thread t's at part[t*2c + j] and part[t*2c + c + j]. */
static void add_partials(double *s0, double *s1, const double *part, int nt, int c)
{
	for (int j = 0; j < c; j++) {
		double a0 = 0, a1 = 0;
		for (int t = 0; t < nt; t++) {
			a0 += part[(size_t)t * 2 * c + j];
			a1 += part[(size_t)t * 2 * c + c + j];
		}
		s0[j] = a0, s1[j] = a1;
	}
}

/* s0, s1 (c) = the sums of rows_sums over all m rows. Thread t sums its
 * block of rows; the blocks are added in thread order. */
static void colsums(double *s0, double *s1, const void *dout, const void *x, relu_mask mk,
		    int mix, size_t m, int c)
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
			  fs + (size_t)t * 2 * c, dout, x, mk, i0, i1, c, mix);
	}
	free(fs);
	add_partials(s0, s1, part, nt, c);
	free(part);
}

/* out = [relu]((in - mean) * scale + shift [+ res]) for rows [i0, i1);
 * in (xb), res (rb) and out (ob: each result rounded once) fp32 or bf16. */
BODY void affine_body(void *out, const void *in, const float *restrict mean,
		      const float *restrict scale, const float *restrict shift, const void *res,
		      int relu, size_t i0, size_t i1, int c, int xb, int rb, int ob)
{
	for (size_t i = i0; i < i1; i++) {
		const void *x = row_at(in, i, c, xb);
		void *y = (void *)row_at(out, i, c, ob);
		if (res) {
			const void *r = row_at(res, i, c, rb);
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (ld(x, j, xb) - mean[j]) * scale[j] + shift[j] + ld(r, j, rb);
				st(y, j, relu && v < 0 ? 0.0f : v, ob);
			}
		} else {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (ld(x, j, xb) - mean[j]) * scale[j] + shift[j];
				st(y, j, relu && v < 0 ? 0.0f : v, ob);
			}
		}
	}
}

/* in, res, out: bits 1, 2, 4 of io as BN_IN_BF16, BN_RES_BF16,
 * BN_OUT_BF16 say; the mixes the network uses instantiated. */
CXR_CLONES static void rows_affine(void *out, const void *in, const float *restrict mean,
				   const float *restrict scale, const float *restrict shift,
				   const void *res, int relu, size_t i0, size_t i1, int c, int io)
{
	switch (io) {
	case BN_IN_BF16:
		affine_body(out, in, mean, scale, shift, res, relu, i0, i1, c, 1, 0, 0);
		break;
	case BN_IN_BF16 | BN_OUT_BF16:
		affine_body(out, in, mean, scale, shift, res, relu, i0, i1, c, 1, 0, 1);
		break;
	case BN_IN_BF16 | BN_OUT_BF16 | BN_RES_BF16:
		affine_body(out, in, mean, scale, shift, res, relu, i0, i1, c, 1, 1, 1);
		break;
	case 0:
		affine_body(out, in, mean, scale, shift, res, relu, i0, i1, c, 0, 0, 0);
		break;
	default:
		cxr_die(CXR_EXIT_DATA, "internal error: batch norm over the bf16 mix %d", io);
	}
}

static void affine(void *out, const void *in, const float *mean, const float *scale,
		   const float *shift, const void *res, int relu, size_t m, int c, int io)
{
	if (!res)
		io &= ~BN_RES_BF16;
#pragma omp parallel
	{
		size_t i0, i1;
		cxr_par_range(m, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		rows_affine(out, in, mean, scale, shift, res, relu, i0, i1, c, io);
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

void bn_forward_train_sums(void *out, float *mean, float *invstd, float *run_mean,
			   float *run_var, double *bmean, double *bvar, const double *part,
			   int nparts, const void *in, const float *gamma, const float *beta,
			   const void *res, int relu, size_t m, int c, float momentum, float eps,
			   int io)
{
	double *s0 = cxr_xmalloc(2 * (size_t)c * sizeof *s0), *s1 = s0 + c;
	if (part) {
		add_partials(s0, s1, part, nparts, c);
	} else { /* the sums by a pass of their own */
		relu_mask none = {0};
		colsums(s0, s1, in, in, none, io & BN_IN_BF16 ? MIX_DOUT | MIX_X : 0, m, c);
	}
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
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
	affine(out, in, mean, scale, beta, res, relu, m, c, io);
	free(scale);
	free(s0);
}

void bn_forward_train_act(void *out, float *mean, float *invstd, float *run_mean,
			  float *run_var, double *bmean, double *bvar, const void *in,
			  const float *gamma, const float *beta, const void *res, int relu,
			  size_t m, int c, float momentum, float eps, int io)
{
	bn_forward_train_sums(out, mean, invstd, run_mean, run_var, bmean, bvar, NULL, 0, in,
			      gamma, beta, res, relu, m, c, momentum, eps, io);
}

void bn_forward_train_stats(float *out, float *mean, float *invstd, float *run_mean,
			    float *run_var, double *bmean, double *bvar, const float *in,
			    const float *gamma, const float *beta, const float *res, int relu,
			    size_t m, int c, float momentum, float eps)
{
	bn_forward_train_act(out, mean, invstd, run_mean, run_var, bmean, bvar, in, gamma, beta,
			     res, relu, m, c, momentum, eps, 0);
}

void bn_forward_replay_act(void *out, const void *in, const float *mean, const float *invstd,
			   const float *gamma, const float *beta, int relu, size_t m, int c, int io)
{
	float *scale = cxr_xmalloc((size_t)c * sizeof *scale);
	for (int j = 0; j < c; j++)
		scale[j] = train_scale(gamma[j], invstd[j]);
	affine(out, in, mean, scale, beta, NULL, relu, m, c, io & (BN_IN_BF16 | BN_OUT_BF16));
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
	affine(out, in, run_mean, scale, beta, res, relu, m, c, 0);
	free(scale);
}

/* din [+]= dz * k + (x - mean) * kx + k0, dz = dout masked by mk; with
 * acc 0, din is written without being read. dres (or NULL) = dz, where the
 * mask is the forward's output's, held as dout is. dout (db), in (xb) and
 * mk.out (ob) fp32 or bf16; din fp32 or (ib, acc 0) bf16, each result
 * rounded once, its rows where bn_backward_act says. */
BODY void bwd_body(void *din, void *dres, const void *dout, const void *in, relu_mask mk,
		   const float *restrict k, const float *restrict kx, const float *restrict k0,
		   int acc, size_t i0, size_t i1, int c, int db, int xb, int ob, int ib)
{
	const float *mean = mk.mean, *scale = mk.scale, *shift = mk.shift;
	/* a bf16 din over a bf16 dout lies as it does, else at fp32 rows */
	const size_t dxrow = (size_t)c * (ib && db ? 2 : 4);
	for (size_t i = i0; i < i1; i++) {
		const void *dy = row_at(dout, i, c, db);
		const void *x = row_at(in, i, c, xb), *y = mk.out ? row_at(mk.out, i, c, ob) : NULL;
		void *dx = (char *)din + i * dxrow;
		if (y && dres) { /* din may be dout: dz taken before dx is written */
			void *dr = (void *)row_at(dres, i, c, db);
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float dz = ld(y, j, ob) > 0 ? ld(dy, j, db) : 0.0f;
				float v = dz * k[j] + (ld(x, j, xb) - mean[j]) * kx[j] + k0[j];
				st(dr, j, dz, db);
				st(dx, j, acc ? ld(dx, j, ib) + v : v, ib);
			}
		} else if (y) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = (ld(y, j, ob) > 0 ? ld(dy, j, db) : 0.0f) * k[j] +
					  (ld(x, j, xb) - mean[j]) * kx[j] + k0[j];
				st(dx, j, acc ? ld(dx, j, ib) + v : v, ib);
			}
		} else if (scale) {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float xm = ld(x, j, xb) - mean[j];
				float dz = xm * scale[j] + shift[j] > 0 ? ld(dy, j, db) : 0.0f;
				float v = dz * k[j] + xm * kx[j] + k0[j];
				st(dx, j, acc ? ld(dx, j, ib) + v : v, ib);
			}
		} else {
#pragma omp simd
			for (int j = 0; j < c; j++) {
				float v = ld(dy, j, db) * k[j] + (ld(x, j, xb) - mean[j]) * kx[j] + k0[j];
				st(dx, j, acc ? ld(dx, j, ib) + v : v, ib);
			}
		}
	}
}

CXR_CLONES static void rows_bwd(void *din, void *dres, const void *dout, const void *in,
				relu_mask mk, const float *restrict k, const float *restrict kx,
				const float *restrict k0, int acc, size_t i0, size_t i1, int c,
				int mix)
{
	/* acc a constant in each instance too: GCC vectorizes a loop with
	 * the choice in it only where it versions the loop on it, and ran
	 * the other version scalar (the demo's fp32 training spent 18% of
	 * its time there on AVX2) */
	switch (mix) {
#define BWD_ACC(mx, a)                                                                     \
	bwd_body(din, dres, dout, in, mk, k, kx, k0, a, i0, i1, c, MIX_BIT(mx, MIX_DOUT),  \
		 MIX_BIT(mx, MIX_X), MIX_BIT(mx, MIX_OUT), MIX_BIT(mx, MIX_DIN))
#define BWD(mx)                                                                            \
	case mx:                                                                           \
		if (acc)                                                                   \
			BWD_ACC(mx, 1);                                                    \
		else                                                                       \
			BWD_ACC(mx, 0);                                                    \
		break;
		BWD(0) BWD(1) BWD(2) BWD(3) BWD(4) BWD(5) BWD(6) BWD(7)
		BWD(8) BWD(9) BWD(10) BWD(11) BWD(12) BWD(13) BWD(14) BWD(15)
#undef BWD
#undef BWD_ACC
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

void bn_backward_act(void *din, void *dres, float *dgamma, float *dbeta, const void *dout,
		     const void *out, const void *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc,
		     int io)
{
	if (dres && !(relu && out))
		cxr_die(CXR_EXIT_DATA, "internal error: batch norm's residual gradient needs the ReLU's output");
	if ((io & BN_DIN_BF16) && acc)
		cxr_die(CXR_EXIT_DATA, "internal error: batch norm's bf16 input gradient added to");
	if ((io & BN_DOUT_BF16) && !(io & BN_DIN_BF16) && din == dout)
		cxr_die(CXR_EXIT_DATA, "internal error: batch norm's fp32 input gradient over a bf16 one");
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
	const int mix = (io & BN_DOUT_BF16 ? MIX_DOUT : 0) | (io & BN_IN_BF16 ? MIX_X : 0) |
			(mk.out && (io & BN_OUT_BF16) ? MIX_OUT : 0) |
			(io & BN_DIN_BF16 ? MIX_DIN : 0);
	colsums(s0, s1, dout, in, mk, mix, m, c);
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
		rows_bwd(din, dres, dout, in, mk, k, kx, k0, acc, i0, i1, c, mix);
	}
	free(k);
	free(s0);
}
