/* wino — 3x3 stride-1 pad-1 convolutions by Winograd F(4x4,3x3); see wino.h.
 *
 * One output tile is 4x4 pixels and needs a 6x6 input patch d. With the
 * transforms of Lavin and Gray (points 0, +-1, +-2, infinity),
 *   y_tile = A' [ (G g G') .* (B' d B) ] A'
 * for every (input channel, output channel) pair, summed over input
 * channels: the 36 elements e of the 6x6 transformed domain are 36
 * independent matrix products M[e] (tiles, K) = V[e] (tiles, C) * U[e] (C, K).
 *
 * The tiles are processed in blocks small enough that a block's V and M
 * stay in cache: a thread transforms its block's input patches, runs the
 * 36 products with its own register-blocked kernel (V is read in place,
 * so nothing is packed), and transforms the block's output straight into
 * y. When there are too few blocks for the threads (the 8x8 and 16x16
 * stages), the output channels are split as well and threads share
 * blocks. The weight gradient is the transpose of the same scheme:
 *   dg = G' [ sum over tiles of (A dy_tile A') .* (B' d B) ] G,
 * 36 products Z[e] (K, C) += Y[e]' (K, tiles) * V[e] (tiles, C), the
 * threads sharing out either the input channels (each owning a slice of
 * Z) or the blocks (each with its own Z, summed at the end).
 *
 * The inner loops are written once with GCC vector extensions on 16 floats
 * and instantiated for AVX-512, AVX2+FMA and plain SSE2; the best one the
 * CPU has is picked at run time. */
#include "nn/wino.h"

#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xmmintrin.h>

#include "base/cli.h"
#include "nn/block_sums.h"

typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4)));
#define LD(p) (*(const vfu *)(p))
#define ST(p, v) (*(vfu *)(p) = (v))
#define INLINE static inline __attribute__((always_inline))

enum {
	NE = 36,   /* elements of the 6x6 transformed tile */
	VL = 16,   /* floats per vector, and the channel padding */
	MRMAX = 12,
	TBQ = 12,  /* tile blocks are multiples of every kernel's row count */
};

/* Activations kept in bf16 (cxr_wino_forward_act): 16 values of the
 * upper halves of fp32s, widened and narrowed with integer operations, so
 * every instruction set's instance takes them. (Vectors go through
 * pointers: a function taking or returning one would change the ABI.) */
typedef unsigned short vhu __attribute__((vector_size(32), aligned(2)));
typedef unsigned int vu __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));

/* *v = the 16 bf16 values at p. */
INLINE void from_bf16(vf *v, const unsigned short *p)
{
	*v = (vf)(__builtin_convertvector(*(const vhu *)p, vu) << 16);
}

/* The first n of *v rounded to bf16 as precision.h's cxr_bf16_round (to
 * nearest even, zero and subnormals to a signed zero, NaN kept quiet), to
 * p. */
INLINE void to_bf16(unsigned short *p, const vf *v, int n)
{
	const vu u = (vu)*v;
	vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
	const vu tiny = (vu)((u & 0x7f800000u) == 0), nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);
	r = (r & ~tiny) | ((u >> 16) & 0x8000u & tiny);
	r = (r & ~nan) | (((u >> 16) | 0x40u) & nan);
	vhu h = __builtin_convertvector(r, vhu);
	if (n == VL)
		*(vhu *)p = h;
	else
		memcpy(p, &h, (size_t)n * sizeof *p);
}

/* *v = 16 values at element i of x, fp32 or (h) bf16. */
INLINE void ldx(vf *v, const void *x, size_t i, int h)
{
	if (h)
		from_bf16(v, (const unsigned short *)x + i);
	else
		*v = LD((const float *)x + i);
}

/* *v = up to 16 floats from p, zeros after n. (Through a pointer: a
 * function returning a 64-byte vector would change the ABI.) */
INLINE void ldn(vf *v, const float *p, int n)
{
	if (n == VL) {
		*v = LD(p);
		return;
	}
	float b[VL] = { 0 };
	memcpy(b, p, (size_t)n * sizeof *p);
	*v = LD(b);
}

/* Element i of x and the n - 1 after it (the rest zero), fp32 or bf16. */
INLINE void ldxn(vf *v, const void *x, size_t i, int n, int h)
{
	if (!h) {
		ldn(v, (const float *)x + i, n);
	} else if (n == VL) {
		from_bf16(v, (const unsigned short *)x + i);
	} else {
		unsigned short b[VL] = { 0 };
		memcpy(b, (const unsigned short *)x + i, (size_t)n * sizeof *b);
		from_bf16(v, b);
	}
}

/* The first n values of *v to element i of y, fp32 or (h) rounded to bf16. */
INLINE void stxn(void *y, size_t i, const vf *v, int n, int h)
{
	if (h) {
		to_bf16((unsigned short *)y + i, v, n);
	} else if (n == VL) {
		ST((float *)y + i, *v);
	} else {
		float b[VL];
		ST(b, *v);
		memcpy((float *)y + i, b, (size_t)n * sizeof *b);
	}
}

static inline int rup(int a, int b) { return (a + b - 1) / b * b; }
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* The stride between the 36 elements of a transformed block, in floats:
 * a whole number of 64-byte lines, and an odd one, so that the 36 lines a
 * tile's transform touches fall in 36 different cache sets. */
static size_t skew(size_t n)
{
	n = (n + VL - 1) / VL * VL;
	return n / VL % 2 ? n : n + VL;
}

/* The shape of one call. */
typedef struct wdims {
	int n, h, w, c, k;
	int th, tw;  /* tiles down and across one image */
	long nt;     /* tiles in the batch */
} wdims;

static wdims dims(int N, int H, int W, int C, int K)
{
	wdims d = { N, H, W, C, K, (H + 3) / 4, (W + 3) / 4, 0 };
	d.nt = (long)N * d.th * d.tw;
	return d;
}

/* --- the transforms, on 16 channels at a time ------------------------- */

/* B' d: six input values to six transformed values. */
#define BT6(d0, d1, d2, d3, d4, d5, o)                                        \
	do {                                                                  \
		vf a_ = (d4) - 4.0f * (d2), b_ = (d3) - 4.0f * (d1);          \
		vf c_ = (d4) - (d2), e_ = 2.0f * ((d3) - (d1));               \
		(o)[0] = 4.0f * (d0) - 5.0f * (d2) + (d4);                    \
		(o)[1] = a_ + b_;                                             \
		(o)[2] = a_ - b_;                                             \
		(o)[3] = c_ + e_;                                             \
		(o)[4] = c_ - e_;                                             \
		(o)[5] = 4.0f * (d1) - 5.0f * (d3) + (d5);                    \
	} while (0)

/* A' m: six transformed values to four outputs. */
#define AT6(m0, m1, m2, m3, m4, m5, o)                                        \
	do {                                                                  \
		vf a_ = (m1) + (m2), b_ = (m1) - (m2);                        \
		vf c_ = (m3) + (m4), e_ = (m3) - (m4);                        \
		(o)[0] = (m0) + a_ + c_;                                      \
		(o)[1] = b_ + 2.0f * e_;                                      \
		(o)[2] = a_ + 4.0f * c_;                                      \
		(o)[3] = b_ + 8.0f * e_ + (m5);                               \
	} while (0)

/* A v: four output gradients to six transformed values (adjoint of A'). */
#define A4(v0, v1, v2, v3, o)                                                 \
	do {                                                                  \
		vf p_ = (v0) + (v2), q_ = (v1) + (v3);                        \
		vf r_ = (v0) + 4.0f * (v2), s_ = 2.0f * (v1) + 8.0f * (v3);   \
		(o)[0] = (v0);                                                \
		(o)[1] = p_ + q_;                                             \
		(o)[2] = p_ - q_;                                             \
		(o)[3] = r_ + s_;                                             \
		(o)[4] = r_ - s_;                                             \
		(o)[5] = (v3);                                                \
	} while (0)

/* Tile t of the batch: image, top-left pixel of its 4x4 output block. */
INLINE void tile_pos(const wdims *d, long t, int *n, int *y0, int *x0)
{
	int tx = (int)(t % d->tw);
	long r = t / d->tw;
	*x0 = tx * 4;
	*y0 = (int)(r % d->th) * 4;
	*n = (int)(r / d->th);
}

/* V (36, tb, ldv), element e at V + e*es: rows [0, nt) the transformed
 * 6x6 input patches of tiles t0.. for channels [c0, c0+cw) of
 * x (N,H,W,C) (fp32, or bf16 with h), padded with zeros to rup(cw, 16)
 * columns; rows [nt, tb) zero. */
INLINE void xin_body(float *V, size_t es, int ldv, const void *x, int h, const wdims *d,
		     long t0, int nt, int tb, int c0, int cw)
{
	const int C = d->c, H = d->h, W = d->w, cwp = rup(cw, VL);
	for (int q = 0; q < tb; q++) {
		float *vr = V + (size_t)q * ldv;
		if (q >= nt) {
			for (int e = 0; e < NE; e++)
				memset(vr + e * es, 0, (size_t)cwp * sizeof *vr);
			continue;
		}
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		y0--, x0--;
		const size_t xb = (size_t)n * H * W * C + c0;
		const int inside = y0 >= 0 && y0 + 6 <= H && x0 >= 0 && x0 + 6 <= W;
		for (int cc = 0; cc < cw; cc += VL) {
			int nc = imin(VL, cw - cc);
			vf t[6][6];
			for (int j = 0; j < 6; j++) {
				int ix = x0 + j;
				vf dd[6];
				/* may lie outside x: only an offset until checked */
				const ptrdiff_t at = (ptrdiff_t)xb + ((ptrdiff_t)y0 * W + ix) * C + cc;
				if (inside && nc == VL) {  /* most tiles: no checks */
#pragma GCC unroll 6
					for (int i = 0; i < 6; i++)
						ldx(&dd[i], x, (size_t)(at + (ptrdiff_t)i * W * C), h);
				} else {
					for (int i = 0; i < 6; i++) {
						int iy = y0 + i;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							dd[i] = (vf){ 0 };
						else
							ldxn(&dd[i], x, (size_t)(at + (ptrdiff_t)i * W * C), nc,
							     h);
					}
				}
				vf o[6];
				BT6(dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], o);
#pragma GCC unroll 6
				for (int i = 0; i < 6; i++)
					t[i][j] = o[i];
			}
			for (int i = 0; i < 6; i++) {
				vf o[6];
				BT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], o);
#pragma GCC unroll 6
				for (int j = 0; j < 6; j++)
					ST(vr + (i * 6 + j) * es + cc, o[j]);
			}
		}
	}
}

/* How xout_body stores: y in fp32 or bf16 (h), [+ y's old value]
 * [+ bias] [ReLU], rounded (bf16) after all of them; s0 (NULL: not)
 * and s1: the storing thread's sums of each channel's stored values and
 * of their squares (fp32 y only), added to in float over a tile (as
 * differences from its first output), then in double. */
typedef struct wout {
	int h, accumulate, relu;
	const float *bias;
	double *s0, *s1;
} wout;

/* y (N,H,W,K) channels [k0, k0+kw) (+)= A' M A for tiles t0..t0+nt,
 * M (36, nt, ldm) as xin_body lays out V, its columns from k0; stored as
 * o says (h: a constant where inlined, the two layouts' code apart). */
INLINE void xout_body(void *y, const float *M, size_t es, int ldm, const wdims *d, long t0,
		      int nt, int k0, int kw, const wout *o, int h)
{
	const int K = d->k, H = d->h, W = d->w;
	for (int q = 0; q < nt; q++) {
		const float *mr = M + (size_t)q * ldm;
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		int ny = imin(4, H - y0), nx = imin(4, W - x0);
		const size_t yb = (((size_t)n * H + y0) * W + x0) * K + k0;
		for (int kk = 0; kk < kw; kk += VL) {
			int nk = imin(VL, kw - kk);
			vf t[4][6], bias = { 0 };
			if (o->bias)
				ldn(&bias, o->bias + k0 + kk, nk);
			for (int j = 0; j < 6; j++) {
				vf r[4];
				const float *p = mr + j * es + kk;
				AT6(LD(p), LD(p + 6 * es), LD(p + 12 * es), LD(p + 18 * es),
				    LD(p + 24 * es), LD(p + 30 * es), r);
#pragma GCC unroll 4
				for (int i = 0; i < 4; i++)
					t[i][j] = r[i];
			}
			/* the sums of the differences from the tile's first output
			 * (block_sums.h) */
			vf shift = { 0 }, sum = { 0 }, sq = { 0 };
			for (int i = 0; i < ny; i++) {
				vf r[4];
				AT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r);
				for (int j = 0; j < nx; j++) {
					const size_t at = yb + ((size_t)i * W + j) * K + kk;
					vf v = r[j];
					if (o->accumulate) {
						vf old;
						ldxn(&old, y, at, nk, h);
						v = old + v;
					}
					if (o->bias)
						v = v + bias;
					if (o->relu) /* v > 0 ? v : 0, NaN and -0 to +0 */
						v = (vf)((vi)v & (vi)(v > 0));
					stxn(y, at, &v, nk, h);
					if (i == 0 && j == 0)
						shift = v;
					const vf dv = v - shift;
					sum += dv;
					sq += dv * dv;
				}
			}
			if (o->s0)
				for (int l = 0; l < nk; l++)
					block_sums_add(o->s0 + k0 + kk + l, o->s1 + k0 + kk + l, ny * nx,
						       shift[l], sum[l], sq[l]);
		}
	}
}

/* Y (36, tb, ldy): rows [0, nt) are A dy A' of the 4x4 output-gradient
 * tiles t0.. of dy (N,H,W,K), all K channels, zero-padded to rup(K, 16);
 * rows [nt, tb) zero. */
INLINE void yin_body(float *Y, size_t es, int ldy, const float *dy, const wdims *d, long t0,
		     int nt, int tb)
{
	const int K = d->k, H = d->h, W = d->w, kp = rup(K, VL);
	for (int q = 0; q < tb; q++) {
		float *yr = Y + (size_t)q * ldy;
		if (q >= nt) {
			for (int e = 0; e < NE; e++)
				memset(yr + e * es, 0, (size_t)kp * sizeof *yr);
			continue;
		}
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		int ny = imin(4, H - y0), nx = imin(4, W - x0);
		const float *gb = dy + (((size_t)n * H + y0) * W + x0) * K;
		for (int kk = 0; kk < K; kk += VL) {
			int nk = imin(VL, K - kk);
			vf t[6][4];
			for (int j = 0; j < 4; j++) {
				vf g[4];
#pragma GCC unroll 4
				for (int i = 0; i < 4; i++)
					if (i < ny && j < nx)
						ldn(&g[i], gb + ((size_t)i * W + j) * K + kk, nk);
					else
						g[i] = (vf){ 0 };
				vf o[6];
				A4(g[0], g[1], g[2], g[3], o);
#pragma GCC unroll 6
				for (int i = 0; i < 6; i++)
					t[i][j] = o[i];
			}
			for (int i = 0; i < 6; i++) {
				vf o[6];
				A4(t[i][0], t[i][1], t[i][2], t[i][3], o);
#pragma GCC unroll 6
				for (int j = 0; j < 6; j++)
					ST(yr + (i * 6 + j) * es + kk, o[j]);
			}
		}
	}
}

/* --- the matrix products ----------------------------------------------- */

/* The kernel of the 36 products, on the instruction set's own vector
 * width W (16, 8 or 4 floats) rather than on vf: GCC keeps an array of
 * generic vectors wider than the machine's in memory, and the AVX2
 * instance ran its products through the stack at a third of the speed of
 * im2col and OpenBLAS. Each lane's sum is the same either way.
 *
 * Cm (mr, 16*nv; rows ldc apart) (+)= sum over t < n of A[i*ra + t*ka] *
 * B (row t, ldb apart; its columns in runs of 16, ps apart): the
 * forward's M = V U (A = V by rows, ra = its row stride, ka = 1) and the
 * weight gradient's Z = Y' V (A = Y read by columns: ra = 1, ka = its row
 * stride). mr, nv and the strides that are
 * 1 are constants after inlining, so acc lives in registers. The sum runs
 * in chunks of KC terms added into Cm: one long running sum over 512
 * channels would lose more than twice the accuracy. With init the first
 * chunk sets Cm, else it adds to it. */
enum { KC = 64 };

#define KERNEL(W)                                                                        \
	typedef float v##W __attribute__((vector_size(4 * W)));                          \
	typedef float v##W##u __attribute__((vector_size(4 * W), aligned(4)));           \
	INLINE void kern_##W(const int mr, const int nv, int n, const float *A, size_t ra, \
			     size_t ka, const float *B, size_t ldb, size_t ps, float *Cm,  \
			     size_t ldc, int init)                                       \
	{                                                                                \
		const int nw = nv * (VL / W);                                            \
		for (int t0 = 0; t0 < n; t0 += KC, init = 0) {                           \
			v##W acc[MRMAX][2 * VL / W], b[2 * VL / W];                      \
			_Pragma("GCC unroll 12") for (int i = 0; i < mr; i++)            \
				_Pragma("GCC unroll 8") for (int j = 0; j < nw; j++)     \
					acc[i][j] = (v##W){ 0 };                          \
			const int t1 = imin(n, t0 + KC);                                 \
			for (int t = t0; t < t1; t++, B += ldb) {                        \
				_Pragma("GCC unroll 8") for (int j = 0; j < nw; j++)     \
					b[j] = *(const v##W##u *)(B + W * j / VL * ps +   \
								  W * j % VL);             \
				_Pragma("GCC unroll 12") for (int i = 0; i < mr; i++) {  \
					float a = A[i * ra + t * ka];                     \
					_Pragma("GCC unroll 8") for (int j = 0; j < nw; j++) \
						acc[i][j] += a * b[j];                    \
				}                                                        \
			}                                                                \
			_Pragma("GCC unroll 12") for (int i = 0; i < mr; i++)            \
				_Pragma("GCC unroll 8") for (int j = 0; j < nw; j++) {   \
					v##W##u *p = (v##W##u *)(Cm + i * ldc + W * j);    \
					*p = init ? acc[i][j] : *p + acc[i][j];           \
				}                                                        \
		}                                                                        \
	}
KERNEL(16)
KERNEL(8)
KERNEL(4)

/* The kernel of width w (a constant after inlining). */
#define KERN(w, ...) \
	((w) == 16 ? kern_16(__VA_ARGS__) : (w) == 8 ? kern_8(__VA_ARGS__) : kern_4(__VA_ARGS__))

/* For e in 36: M[e] (tb, kw) = V[e] (tb, C) * U[e][:, k0:k0+kw], tb a
 * multiple of mr, k0 and kw of 16; U (36, ldu/16, C, 16): each run of 16
 * columns whole, row after row (wxf_body). Vectors of w floats. */
INLINE void gemm_fwd_body(const int w, const int mr, const int nv, float *M, size_t mes, int ldm,
			  const float *V, size_t ves, int ldv, const float *U, int C, int ldu,
			  int tb, int k0, int kw)
{
	const size_t ps = (size_t)C * VL; /* between runs of 16 columns */
	for (int e = 0; e < NE; e++) {
		const float *Ve = V + e * ves, *Ue = U + (size_t)e * C * ldu + k0 / VL * ps;
		float *Me = M + e * mes;
		int k = 0;
		for (; k + VL * nv <= kw; k += VL * nv)
			for (int r = 0; r < tb; r += mr)
				KERN(w, mr, nv, C, Ve + (size_t)r * ldv, ldv, 1, Ue + k / VL * ps, VL,
				     ps, Me + (size_t)r * ldm + k, ldm, 1);
		for (; k < kw; k += VL)
			for (int r = 0; r < tb; r += mr)
				KERN(w, mr, 1, C, Ve + (size_t)r * ldv, ldv, 1, Ue + k / VL * ps, VL,
				     ps, Me + (size_t)r * ldm + k, ldm, 1);
	}
}

/* For e in 36: Z[e] (kz, cwp) (+)= Y[e]' (kz, tb) * V[e] (tb, cwp); kz a
 * multiple of mr, cwp of 16. */
INLINE void gemm_wg_body(const int w, const int mr, const int nv, float *Z, size_t zes, int ldz,
			 const float *Y, size_t yes, int ldy, const float *V, size_t ves,
			 int ldv, int tb, int kz, int cwp, int init)
{
	for (int e = 0; e < NE; e++) {
		const float *Ye = Y + e * yes, *Ve = V + e * ves;
		float *Ze = Z + e * zes;
		int c = 0;
		for (; c + VL * nv <= cwp; c += VL * nv)
			for (int k = 0; k < kz; k += mr)
				KERN(w, mr, nv, tb, Ye + k, 1, ldy, Ve + c, ldv, VL,
				     Ze + (size_t)k * ldz + c, ldz, init);
		for (; c < cwp; c += VL)
			for (int k = 0; k < kz; k += mr)
				KERN(w, mr, 1, tb, Ye + k, 1, ldy, Ve + c, ldv, VL,
				     Ze + (size_t)k * ldz + c, ldz, init);
	}
}

/* G' z: six transformed values to three weight taps. */
#define GT6(z0, z1, z2, z3, z4, z5, o)                                        \
	do {                                                                  \
		vf s12_ = (z1) + (z2), d12_ = (z2) - (z1);                    \
		vf s34_ = (z3) + (z4), d34_ = (z3) - (z4);                    \
		(o)[0] = 0.25f * (z0) - (1.0f / 6) * s12_ + (1.0f / 24) * s34_; \
		(o)[1] = (1.0f / 6) * d12_ + (1.0f / 12) * d34_;              \
		(o)[2] = (1.0f / 6) * (s34_ - s12_) + (z5);                   \
	} while (0)

/* dw (K,C,3,3) rows [k0, k1), channels [c0, c0+cw) += G' Z G, with
 * Z (36, >= k1, ldz) holding columns c0.. */
INLINE void zout_body(float *dw, const float *Z, size_t zes, int ldz, int k0, int k1, int C,
		      int c0, int cw)
{
	for (int k = k0; k < k1; k++)
		for (int cc = 0; cc < cw; cc += VL) {
			const float *zp = Z + (size_t)k * ldz + cc;
			vf t[3][6], r[9];
			for (int b = 0; b < 6; b++) {
				vf o[3];
				GT6(LD(zp + b * zes), LD(zp + (6 + b) * zes), LD(zp + (12 + b) * zes),
				    LD(zp + (18 + b) * zes), LD(zp + (24 + b) * zes),
				    LD(zp + (30 + b) * zes), o);
#pragma GCC unroll 3
				for (int i = 0; i < 3; i++)
					t[i][b] = o[i];
			}
#pragma GCC unroll 3
			for (int i = 0; i < 3; i++)
				GT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r + 3 * i);
			float b[9][VL];
#pragma GCC unroll 9
			for (int q = 0; q < 9; q++)
				ST(b[q], r[q]);
			int nc = imin(VL, cw - cc);
			float *g = dw + ((size_t)k * C + c0 + cc) * 9;
			for (int l = 0; l < nc; l++)
				for (int q = 0; q < 9; q++)
					g[l * 9 + q] += b[q][l];
		}
}

/* G g G' for input channels [c0, c1) and the 16 output channels from k0.
 * U (36, kp/16, C, 16): element e's run of columns [k0, k0+16) for
 * channel c at ((e*kp/16 + k0/16)*C + c)*16, so that a product reading a
 * run of 16 columns down all C rows reads one sequential stream (with
 * rows kp apart, 2 KB at 512 columns, the prefetchers left each row a
 * miss: at batch 1, whose 4 tiles of the 8x8 stage reuse U little, the
 * product waited on memory for 5.5 ms a layer). A channel's 36 values
 * go to 36 places es floats apart, a power of two times 64 bytes at 256
 * channels and more: written in place, channel by channel, they were 36
 * streams falling in one set of L1 and of L2, each line evicted before
 * it was whole (a 512-channel layer's two transforms took 20 ms a
 * training step). So they are made for WC channels at a time in an L1
 * buffer, then each element's run of WC * 16 floats written out whole. */
INLINE void wxf_body(float *U, const float *w, int C, int K, int rot, int k0, int c0, int c1)
{
	const int kp = rup(K, VL), kn = imin(VL, K - k0);
	const size_t es = (size_t)C * kp;
	enum { WC = 8 };
	float stage[NE][WC][VL] __attribute__((aligned(64)));
	const int stream = ((uintptr_t)U & 15) == 0;
	for (int cb = c0; cb < c1; cb += WC) {
		const int cn = imin(WC, c1 - cb);
		for (int c = cb; c < cb + cn; c++) {
			float gb[9][VL] = { { 0 } };
			if (rot) {
				const float *g = w + ((size_t)c * K + k0) * 9;
				for (int k = 0; k < kn; k++, g += 9)
					_Pragma("GCC unroll 9") for (int q = 0; q < 9; q++)
						gb[8 - q][k] = g[q];
			} else {
				const float *g = w + ((size_t)k0 * C + c) * 9;
				for (int k = 0; k < kn; k++, g += (size_t)C * 9)
					_Pragma("GCC unroll 9") for (int q = 0; q < 9; q++)
						gb[q][k] = g[q];
			}
			vf t[6][3];
			for (int j = 0; j < 3; j++) {
				vf g0 = LD(gb[j]), g1 = LD(gb[3 + j]), g2 = LD(gb[6 + j]);
				vf s = (g0 + g2) * (-1.0f / 6), d = (g0 + g2) * (1.0f / 24);
				t[0][j] = 0.25f * g0;
				t[1][j] = s - (1.0f / 6) * g1;
				t[2][j] = s + (1.0f / 6) * g1;
				t[3][j] = d + (1.0f / 12) * g1 + (1.0f / 8) * g2;
				t[4][j] = d - (1.0f / 12) * g1 + (1.0f / 8) * g2;
				t[5][j] = g2;
			}
			for (int a = 0; a < 6; a++) {
				vf g0 = t[a][0], g1 = t[a][1], g2 = t[a][2];
				vf s = (g0 + g2) * (-1.0f / 6), d = (g0 + g2) * (1.0f / 24);
				float(*u)[WC][VL] = stage + a * 6;
				ST(u[0][c - cb], 0.25f * g0);
				ST(u[1][c - cb], s - (1.0f / 6) * g1);
				ST(u[2][c - cb], s + (1.0f / 6) * g1);
				ST(u[3][c - cb], d + (1.0f / 12) * g1 + (1.0f / 8) * g2);
				ST(u[4][c - cb], d - (1.0f / 12) * g1 + (1.0f / 8) * g2);
				ST(u[5][c - cb], g2);
			}
		}
		/* by streaming stores where U allows them (16-byte aligned):
		 * at 512 channels U is 38 MB, more than the caches hold, and
		 * an ordinary store would first read each line it fills */
		float *u = U + ((size_t)(k0 / VL) * C + cb) * VL;
		for (int e = 0; e < NE; e++)
			for (int i = 0; i < cn * VL; i += 4) {
				const __m128 v = _mm_load_ps(stage[e][0] + i);
				if (stream)
					_mm_stream_ps(u + e * es + i, v);
				else
					_mm_storeu_ps(u + e * es + i, v);
			}
	}
}

/* --- one instance per instruction set ---------------------------------- */

typedef struct isa {
	const char *name;
	int mr;  /* kernel rows; divides TBQ */
	void (*xin)(float *, size_t, int, const void *, int, const wdims *, long, int, int, int,
		    int);
	void (*xout)(void *, const float *, size_t, int, const wdims *, long, int, int, int,
		     const wout *);
	void (*yin)(float *, size_t, int, const float *, const wdims *, long, int, int);
	void (*gemm_fwd)(float *, size_t, int, const float *, size_t, int, const float *, int,
			 int, int, int, int);
	void (*gemm_wg)(float *, size_t, int, const float *, size_t, int, const float *, size_t,
			int, int, int, int, int);
	void (*zout)(float *, const float *, size_t, int, int, int, int, int, int);
	void (*wxf)(float *, const float *, int, int, int, int, int, int);
} isa;

#define ISA(sfx, TARGET, W, MR, NV)                                                        \
	TARGET static void xin_##sfx(float *V, size_t es, int ldv, const void *x, int h, \
				     const wdims *d, long t0, int nt, int tb, int c0,   \
				     int cw)                                            \
	{                                                                               \
		if (h)                                                                  \
			xin_body(V, es, ldv, x, 1, d, t0, nt, tb, c0, cw);              \
		else                                                                    \
			xin_body(V, es, ldv, x, 0, d, t0, nt, tb, c0, cw);              \
	}                                                                               \
	TARGET static void xout_##sfx(void *y, const float *M, size_t es, int ldm,      \
				      const wdims *d, long t0, int nt, int k0, int kw,  \
				      const wout *o)                                    \
	{                                                                               \
		if (o->h)                                                               \
			xout_body(y, M, es, ldm, d, t0, nt, k0, kw, o, 1);              \
		else                                                                    \
			xout_body(y, M, es, ldm, d, t0, nt, k0, kw, o, 0);              \
	}                                                                               \
	TARGET static void yin_##sfx(float *Y, size_t es, int ldy, const float *dy,     \
				     const wdims *d, long t0, int nt, int tb)           \
	{                                                                               \
		yin_body(Y, es, ldy, dy, d, t0, nt, tb);                                \
	}                                                                               \
	TARGET static void gemm_fwd_##sfx(float *M, size_t mes, int ldm, const float *V, \
					  size_t ves, int ldv, const float *U, int C,   \
					  int ldu, int tb, int k0, int kw)              \
	{                                                                               \
		gemm_fwd_body(W, MR, NV, M, mes, ldm, V, ves, ldv, U, C, ldu, tb, k0, kw); \
	}                                                                               \
	TARGET static void gemm_wg_##sfx(float *Z, size_t zes, int ldz, const float *Y, \
					 size_t yes, int ldy, const float *V,           \
					 size_t ves, int ldv, int tb, int kz, int cwp,  \
					 int init)                                      \
	{                                                                               \
		gemm_wg_body(W, MR, NV, Z, zes, ldz, Y, yes, ldy, V, ves, ldv, tb, kz,    \
			     cwp, init);                                                \
	}                                                                               \
	TARGET static void zout_##sfx(float *dw, const float *Z, size_t zes, int ldz,   \
				      int k0, int k1, int C, int c0, int cw)            \
	{                                                                               \
		zout_body(dw, Z, zes, ldz, k0, k1, C, c0, cw);                          \
	}                                                                               \
	TARGET static void wxf_##sfx(float *U, const float *w, int C, int K, int rot,   \
				     int k0, int c0, int c1)                            \
	{                                                                               \
		wxf_body(U, w, C, K, rot, k0, c0, c1);                                  \
	}                                                                               \
	static const isa isa_##sfx = { #sfx, MR, xin_##sfx, xout_##sfx, yin_##sfx,     \
				       gemm_fwd_##sfx, gemm_wg_##sfx, zout_##sfx,       \
				       wxf_##sfx };

/* AVX-512: 12x32 blocks, 24 accumulators of the 32 registers. AVX2: 6x16,
 * 12 of 16. SSE2: 3x16, 12 of 16. */
ISA(avx512, __attribute__((target("avx512f"))), 16, 12, 2)
ISA(avx2, __attribute__((target("avx2,fma"))), 8, 6, 1)
ISA(sse2, , 4, 3, 1)

static const isa *forced;

static const isa *best(void)
{
	if (forced)
		return forced;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return &isa_avx512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &isa_avx2;
	return &isa_sse2;
}

const char *cxr_wino_isa(void)
{
	return best()->name;
}

int cxr_wino_set_isa(const char *name)
{
	const isa *all[] = { &isa_avx512, &isa_avx2, &isa_sse2 };
	forced = NULL;
	if (!name)
		return 0;
	const isa *top = best();
	int ok = 0;
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		if (all[i] == top)
			ok = 1;
		if (ok && !strcmp(all[i]->name, name)) {
			forced = all[i];
			return 0;
		}
	}
	return -1;
}

/* --- weights ------------------------------------------------------------ */

size_t cxr_wino_weights_size(int C, int K)
{
	return (size_t)NE * C * rup(K, VL);
}

/* U (36 x C x rup(K,16), in runs of 16 columns: wxf_body) = G g G' for
 * g(k, c) = w[(k*C + c)*9] (3x3, row-major), or, with rot, g(k, c) =
 * w(c, k) rotated 180 degrees and C, K the swapped counts. */
static void transform(float *U, const float *w, int C, int K, int rot)
{
	const isa *z = best();
	/* items: (run of 16 output channels, block of CB input channels) */
	enum { CB = 32 };
	const int runs = rup(K, VL) / VL, cblocks = (C + CB - 1) / CB;
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int it = 0; it < runs * cblocks; it++) {
			const int c0 = it % cblocks * CB;
			z->wxf(U, w, C, K, rot, it / cblocks * VL, c0, imin(c0 + CB, C));
		}
		/* the streaming stores (wxf_body) seen before the region's end */
		_mm_sfence();
	}
}

void cxr_wino_transform_weights(float *U, const float *w, int C, int K)
{
	transform(U, w, C, K, 0);
}

void cxr_wino_transform_weights_backward(float *U, const float *w, int C, int K)
{
	transform(U, w, K, C, 1);
}

/* --- plans: block sizes and how threads share the work ------------------ */

static int nthreads(void)
{
	return imax(1, imin(omp_get_max_threads(), omp_get_num_procs()));
}

/* A rough machine model to rank block sizes: kernel speed per thread,
 * and the bandwidth at which a buffer of a given size comes back (from L2,
 * L3 or memory). Only the ranking matters; the numbers are of the order
 * measured on the 2-core AMD EPYC (Zen 5) this was tuned on. */
#define FLOPS 9e10
#define XF 7e-9  /* seconds a transform takes per tile and channel */
#define L2FIT (768.0 * 1024)

/* Bytes per second from a thread's buffer of the given size, when every
 * thread has one: from its own L2, the shared L3, or memory. */
static double bw(double bytes, int nthr)
{
	return bytes <= L2FIT ? 1e11 : bytes * nthr <= 16e6 ? 4e10 : 1.2e10;
}

/* Forced choices (cxr_wino_tune); 0 leaves them to the cost model. */
static int force_tb, force_ns, force_mode;

void cxr_wino_tune(int tiles, int slices, int wgrad_mode)
{
	force_tb = tiles > 0 ? rup(tiles, TBQ) : 0;
	force_ns = slices > 0 ? slices : 0;
	force_mode = wgrad_mode == 1 || wgrad_mode == 2 ? wgrad_mode : 0;
}

/* The block sizes worth trying, in tiles: multiples of TBQ up to all the
 * tiles or TBMAX; or only the forced one. Returns 0 when there are no
 * more. */
enum { TBMAX = 2040 };

static int next_block(const wdims *d, long *nblk, int *tb)
{
	const int all = (int)(d->nt < TBMAX ? rup((int)d->nt, TBQ) : TBMAX);
	if (force_tb)
		*tb = *tb ? all + 1 : imin(force_tb, all);
	else
		*tb += TBQ;
	*nblk = (d->nt + *tb - 1) / *tb;
	return *tb <= all;
}

typedef struct fplan {
	int tb;      /* tiles per block, a multiple of TBQ */
	int ks;      /* output channels per slice, a multiple of 16 */
	int ns;      /* slices */
	long nblk;   /* blocks */
	size_t ves, mes;  /* element strides of V (tb, cp) and M (tb, ks) */
	size_t per;  /* floats of workspace per thread */
} fplan;

/* Forward: work items are (block of tiles, slice of output channels),
 * dealt to the threads in runs; a thread transforms a block's input (V)
 * once for its run of that block's slices, multiplies it by U's slice
 * into M and transforms M into y. Costs: products (padding rows
 * included), transforms, U's slice streamed once per item, and V and M
 * through L3 when a block does not fit L2. */
static fplan plan_fwd(const wdims *d, int nthr)
{
	const int cp = rup(d->c, VL), kp = rup(d->k, VL);
	fplan best = { 0 };
	double bestt = 1e300;
	long nblk = 0;
	int tb = 0;
	while (next_block(d, &nblk, &tb)) {
		for (int n = 1; n <= kp / VL; n++) {
			if (force_ns ? n != imin(force_ns, kp / VL) : n > 1 && nthr == 1)
				continue;
			int ks = n > 1 ? rup((kp + n - 1) / n, 2 * VL) : kp;
			int ns = (kp + ks - 1) / ks;
			if (ns != n && !force_ns)
				continue;  /* the same as fewer slices */
			long items = nblk * ns, rounds = (items + nthr - 1) / nthr;
			long blocks = (rounds + ns - 1) / ns + (ns > 1);
			double ub = 4.0 * NE * d->c * kp, blk = 4.0 * NE * tb * (cp + ks);
			double t = 2.0 * NE * tb * d->c * ks / FLOPS + ub / ns / bw(ub, 1) +
				   (double)tb * ks * XF;
			if (blk > L2FIT)
				t += 2 * blk / bw(blk, nthr);
			t = t * rounds + (double)blocks * tb * cp * XF;
			if (t < bestt * 0.999) {
				bestt = t;
				best = (fplan){ tb, ks, (kp + ks - 1) / ks, nblk, 0, 0, 0 };
			}
		}
	}
	best.ves = skew((size_t)best.tb * cp);
	best.mes = skew((size_t)best.tb * best.ks);
	best.per = NE * (best.ves + best.mes);
	return best;
}

typedef struct wplan {
	int tb;      /* tiles per block */
	int cs;      /* input channels per slice, a multiple of 16 */
	int ns;      /* slices of the input channels */
	int split;   /* blocks are shared out among threads, each with its own Z */
	int kz;      /* rows of Z: K rounded up to the kernel rows */
	long nblk;
	int ldv, ldy;  /* row strides of V (>= cs) and Y (>= kp): col_stride */
	size_t ves, yes, zes;  /* element strides of V (tb, ldv), Y (tb, ldy), Z (kz, cs) */
	size_t per;  /* floats of workspace per thread */
} wplan;

/* The row stride of a block the weight gradient's product reads down
 * its columns, a line a row, for n columns: at 8 cache lines or more an
 * odd number of lines (rows 1 or 2 KB apart fell in 4 or 2 of L1's 64
 * sets, too few ways for a block's rows, and were missed again for every
 * column: stage 3's and 4's products took 15% and 20% longer); below that
 * the rows as they are (stage 1's 4 lines a row spread over 16 sets, and
 * a padded row only added bytes). */
static int col_stride(int n)
{
	n = rup(n, VL);
	return n >= 8 * VL ? (int)skew((size_t)n) : n;
}

/* Weight gradient: a thread goes through blocks of tiles, transforms x's
 * channels of its slice (V) and all of dy (Y), and adds Y' V into its Z
 * (36, K, cs). Either the input channels are split among the threads,
 * each owning a slice of Z but transforming all of dy (best when Z is
 * big: 8x8 images with 512 channels make a 19 MB Z per thread), or the
 * blocks are, each thread with a Z for all channels, summed at the end
 * (best when Z is small: no transform is done twice). Costs: products,
 * transforms, Z read and written once per block, V and Y through L3 or
 * memory when a block and Z do not fit L2. */
static wplan plan_wg(const wdims *d, int nthr)
{
	const int cp = rup(d->c, VL), kp = rup(d->k, VL), kz = rup(d->k, TBQ);
	wplan best = { 0 };
	double bestt = 1e300;
	for (int split = 0; split < 2; split++) {
		if (force_mode && force_mode != split + 1)
			continue;
		int ns = split ? 1 : imax(1, imin(nthr, cp / VL));
		int cs = rup((cp + ns - 1) / ns, VL);
		ns = (cp + cs - 1) / cs;
		double zb = 4.0 * NE * kz * cs;
		long nblk = 0;
		int tb = 0;
		while (next_block(d, &nblk, &tb)) {
			if (split && nblk < nthr && !force_mode)
				continue;  /* a thread would sit idle */
			double blk = 4.0 * NE * tb * (cs + kp);
			double t = 2.0 * NE * tb * cs * kp / FLOPS + (double)tb * (cs + kp) * XF;
			t += 2 * zb / bw(zb, nthr);
			if (blk + zb > L2FIT)
				t += 2 * blk / bw(blk, nthr);
			t *= split ? (nblk + nthr - 1) / nthr : nblk;
			if (split)  /* the sum of the threads' Z */
				t += zb / bw(zb, nthr);
			if (t < bestt * 0.999) {
				bestt = t;
				best = (wplan){ tb, cs, ns, split, kz, nblk, 0, 0, 0, 0, 0, 0 };
			}
		}
	}
	best.ldv = col_stride(best.cs);
	best.ldy = col_stride(kp);
	/* Y has slack: the kernel reads its last row up to kz */
	best.ves = skew((size_t)best.tb * best.ldv);
	best.yes = skew((size_t)best.tb * best.ldy + 2 * VL);
	best.zes = skew((size_t)best.kz * best.cs);
	best.per = NE * (best.ves + best.yes + best.zes);
	return best;
}

/* The plans depend on the thread count, which may be anything up to the
 * number of processors when the workspace is used. */
size_t cxr_wino_workspace_size(int N, int H, int W, int C, int K)
{
	wdims d = dims(N, H, W, C, K), e = dims(N, H, W, K, C);
	size_t most = 0;
	if (d.nt == 0 || C < 1 || K < 1)
		return 0;
	for (int t = 1; t <= omp_get_num_procs(); t++) {
		size_t a = plan_fwd(&d, t).per, b = plan_fwd(&e, t).per, c = plan_wg(&d, t).per;
		a = a > b ? a : b;
		a = a > c ? a : c;
		if (a * t > most)
			most = a * t;
	}
	return most;
}

/* --- the three calls ----------------------------------------------------- */

void cxr_wino_forward(float *y, const float *x, const float *U, int N, int H, int W, int C,
		      int K, float *ws, int accumulate)
{
	cxr_wino_forward_act(y, 0, x, 0, U, N, H, W, C, K, ws, accumulate, NULL, 0, NULL);
}

void cxr_wino_forward_act(void *y, int y_bf16, const void *x, int x_bf16, const float *U, int N,
			  int H, int W, int C, int K, float *ws, int accumulate, const float *bias,
			  int relu, double *stats)
{
	if (stats && y_bf16)
		cxr_die(CXR_EXIT_DATA, "internal error: the output sums of a Winograd layer's bf16 y");
	const wout o = { !!y_bf16, accumulate, relu, bias, NULL, NULL };
	wdims d = dims(N, H, W, C, K);
	if (d.nt == 0 || C < 1 || K < 1)
		return;
	const isa *z = best();
	const int nthr = nthreads(), cp = rup(C, VL), kp = rup(K, VL);
	const fplan p = plan_fwd(&d, nthr);
	const long items = p.nblk * p.ns;
	const size_t ves = p.ves, mes = p.mes;
#pragma omp parallel num_threads(nthr)
	{
		int tid = omp_get_thread_num(), nth = omp_get_num_threads();
		float *V = ws + p.per * tid, *M = V + NE * ves;
		long i0 = items * tid / nth, i1 = items * (tid + 1) / nth, last = -1;
		wout mine = o;
		if (stats) {
			mine.s0 = stats + (size_t)tid * 2 * K;
			mine.s1 = mine.s0 + K;
		}
		for (long it = i0; it < i1; it++) {
			long b = it / p.ns;
			int s = (int)(it % p.ns);
			long t0 = b * p.tb;
			int nt = (int)(d.nt - t0 < p.tb ? d.nt - t0 : p.tb);
			if (b != last)
				z->xin(V, ves, cp, x, !!x_bf16, &d, t0, nt, p.tb, 0, C);
			last = b;
			int k0 = s * p.ks, kw = imin(p.ks, kp - k0);
			/* only the kernel's row panels that hold tiles: a block's
			 * rows past nt are zero, and xout reads none of them (at
			 * batch 1 the 8x8 stage's 4 tiles filled 4 of 12 rows) */
			z->gemm_fwd(M, mes, p.ks, V, ves, cp, U, C, kp, rup(nt, z->mr), k0, kw);
			z->xout(y, M, mes, p.ks, &d, t0, nt, k0, imin(kw, K - k0), &mine);
		}
	}
}

void cxr_wino_backward_weights(float *dw, const float *x, const float *dy, int N, int H,
			       int W, int C, int K, float *ws)
{
	wdims d = dims(N, H, W, C, K);
	if (d.nt == 0 || C < 1 || K < 1)
		return;
	const isa *z = best();
	const int kp = rup(K, VL), nthr = nthreads();
	const wplan p = plan_wg(&d, nthr);
	const size_t ves = p.ves, yes = p.yes, zes = p.zes;
#pragma omp parallel num_threads(p.split ? nthr : imin(nthr, p.ns))
	{
		const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
		float *V = ws + p.per * tid, *Y = V + NE * ves, *Z = Y + NE * yes;
		/* the kernel reads a row's k up to kz, past kp: those are
		 * zero, and so is the slack after the last row */
		for (int e = 0; e < NE; e++) {
			for (int q = 0; q < p.tb; q++)
				memset(Y + e * yes + (size_t)q * p.ldy + kp, 0,
				       (size_t)(p.ldy - kp) * sizeof *Y);
			memset(Y + e * yes + (size_t)p.tb * p.ldy, 0, 2 * VL * sizeof *Y);
		}
		/* split: blocks [b0, b1) and all channels; else slices s, all blocks */
		long b0 = p.split ? p.nblk * tid / nth : 0;
		long b1 = p.split ? p.nblk * (tid + 1) / nth : p.nblk;
		if (b0 == b1)  /* more threads than blocks (forced): add nothing */
			memset(Z, 0, NE * zes * sizeof *Z);
		for (int s = p.split ? 0 : tid; s < p.ns; s += p.split ? 1 : nth) {
			int c0 = s * p.cs, cw = imin(p.cs, C - c0);
			for (long b = b0; b < b1; b++) {
				long t0 = b * p.tb;
				int nt = (int)(d.nt - t0 < p.tb ? d.nt - t0 : p.tb);
				z->xin(V, ves, p.ldv, x, 0, &d, t0, nt, p.tb, c0, cw);
				z->yin(Y, yes, p.ldy, dy, &d, t0, nt, p.tb);
				z->gemm_wg(Z, zes, p.cs, Y, yes, p.ldy, V, ves, p.ldv, p.tb, p.kz,
					   rup(cw, VL), b == b0);
			}
			if (!p.split)
				z->zout(dw, Z, zes, p.cs, 0, K, C, c0, cw);
		}
		if (p.split) {
			/* Thread tid sums rows [k0, k1) of every thread's Z into
			 * thread 0's, then transforms them. */
			int k0 = (int)((long)K * tid / nth), k1 = (int)((long)K * (tid + 1) / nth);
			float *Z0 = ws + NE * (ves + yes);
#pragma omp barrier
			for (int t = 1; t < nth; t++) {
				const float *Zt = ws + p.per * t + NE * (ves + yes);
				for (int e = 0; e < NE; e++)
					for (size_t i = (size_t)k0 * p.cs; i < (size_t)k1 * p.cs; i++)
						Z0[e * zes + i] += Zt[e * zes + i];
			}
			z->zout(dw, Z0, zes, p.cs, k0, k1, C, 0, C);
		}
	}
}
