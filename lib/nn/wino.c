/* wino — 3x3 pad-1 convolutions by Winograd: stride 1 by F(4x4,3x3), and
 * stride 2 (forward) by the F(4x4) of T9, A9 and G9 below; see wino.h.
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
 * Stride 2 runs the same way with 81 elements instead of 36 (9x9
 * patches, dims_of's ne): the transforms differ, the products, plans and
 * stores are shared.
 *
 * The inner loops are written once with GCC vector extensions and
 * instantiated for AVX-512, AVX2+FMA and plain SSE2, each on vectors as
 * wide as its registers (the transforms in wino_xform.h, the products
 * here); the best one the CPU has is picked at run time. */
#include "nn/wino.h"

#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xmmintrin.h>

#include "base/cli.h"
#include "nn/block_sums.h"

/* A vector of the transforms' width (wino_xform.h's vf) from or to p,
 * aligned or not. */
#define LD(p) (*(const vfu *)(p))
#define ST(p, v) (*(vfu *)(p) = (v))
#define INLINE static inline __attribute__((always_inline))

enum {
	NE = 36,   /* elements of the 6x6 transformed tile */
	NE2 = 81,  /* and of the 9x9 one of a stride-2 convolution */
	VL = 16,   /* channels in a run of the transformed layouts, and their padding */
	MRMAX = 12,
	TBQ = 12,  /* tile blocks are multiples of every kernel's row count */
};

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
	int n, h, w, c, k;  /* x (n,h,w,c), K output channels */
	int oh, ow;  /* y's height and width */
	int ne;      /* elements of a transformed tile: NE, or NE2 for stride 2 */
	int th, tw;  /* tiles down and across one image of y */
	long nt;     /* tiles in the batch */
} wdims;

static wdims dims_of(int N, int H, int W, int C, int K, int stride)
{
	const int oh = stride == 2 ? (H + 1) / 2 : H, ow = stride == 2 ? (W + 1) / 2 : W;
	wdims d = { N, H, W, C, K, oh, ow, stride == 2 ? NE2 : NE, (oh + 3) / 4, (ow + 3) / 4, 0 };
	d.nt = (long)N * d.th * d.tw;
	return d;
}

static wdims dims(int N, int H, int W, int C, int K)
{
	return dims_of(N, H, W, C, K, 1);
}

/* --- the transforms ---------------------------------------------------- */

/* The 6-point transforms, on vectors of any width (wino_xform.h's vf). */

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

/* G' z: six transformed values to three weight taps. */
#define GT6(z0, z1, z2, z3, z4, z5, o)                                        \
	do {                                                                  \
		vf s12_ = (z1) + (z2), d12_ = (z2) - (z1);                    \
		vf s34_ = (z3) + (z4), d34_ = (z3) - (z4);                    \
		(o)[0] = 0.25f * (z0) - (1.0f / 6) * s12_ + (1.0f / 24) * s34_; \
		(o)[1] = (1.0f / 6) * d12_ + (1.0f / 12) * d34_;              \
		(o)[2] = (1.0f / 6) * (s34_ - s12_) + (z5);                   \
	} while (0)

/* G g: the three taps g[3] (one column or row of a 3x3 kernel) to the
 * six transformed weights o[6]. */
#define G6(g, o)                                                              \
	do {                                                                  \
		vf s_ = ((g)[0] + (g)[2]) * (-1.0f / 6);                      \
		vf d_ = ((g)[0] + (g)[2]) * (1.0f / 24);                      \
		(o)[0] = 0.25f * (g)[0];                                      \
		(o)[1] = s_ - (1.0f / 6) * (g)[1];                            \
		(o)[2] = s_ + (1.0f / 6) * (g)[1];                            \
		(o)[3] = d_ + (1.0f / 12) * (g)[1] + (1.0f / 8) * (g)[2];     \
		(o)[4] = d_ - (1.0f / 12) * (g)[1] + (1.0f / 8) * (g)[2];     \
		(o)[5] = (g)[2];                                              \
	} while (0)

/* Stride 2. An output y[i] = x[2i-1] w0 + x[2i] w1 + x[2i+1] w2 is an
 * odd-phase 2-tap correlation plus an even-phase 1-tap product: four
 * outputs take a 9-sample patch s, whose odd-phase samples s0, s2, .., s8
 * go through Winograd F(4,2) (points 0, +-1, 2 and infinity: 5 products
 * for 4 outputs) and whose even-phase samples s1, s3, s5, s7 pass as
 * they are (4 for 4): 9 transformed values per 4 outputs instead of 12,
 * 81 per 4x4 tile instead of 144, 0.56 of im2col's multiplies.
 * T9: the patch s[9] to the 9 transformed values o[9]. */
#define T9(s, o)                                                              \
	do {                                                                  \
		(o)[0] = 2.0f * ((s)[0] - (s)[4]) + ((s)[6] - (s)[2]);        \
		(o)[1] = ((s)[6] - (s)[4]) - 2.0f * (s)[2];                   \
		(o)[2] = ((s)[6] - (s)[4]) + 2.0f * ((s)[2] - (s)[4]);        \
		(o)[3] = (s)[6] - (s)[2];                                     \
		(o)[4] = 2.0f * ((s)[2] - (s)[6]) + ((s)[8] - (s)[4]);        \
		(o)[5] = (s)[1];                                              \
		(o)[6] = (s)[3];                                              \
		(o)[7] = (s)[5];                                              \
		(o)[8] = (s)[7];                                              \
	} while (0)

/* A9: the 9 products m[9] to the 4 outputs r[4]. */
#define A9(m, r)                                                              \
	do {                                                                  \
		vf a_ = (m)[1] + (m)[2], b_ = (m)[1] - (m)[2];                \
		(r)[0] = (m)[0] + a_ + (m)[3] + (m)[5];                       \
		(r)[1] = b_ + 2.0f * (m)[3] + (m)[6];                         \
		(r)[2] = a_ + 4.0f * (m)[3] + (m)[7];                         \
		(r)[3] = b_ + 8.0f * (m)[3] + (m)[4] + (m)[8];                \
	} while (0)

/* G9: the three taps g[3] to the 9 transformed weights o[9]. */
#define G9(g, o)                                                              \
	do {                                                                  \
		(o)[0] = 0.5f * (g)[0];                                       \
		(o)[1] = -0.5f * ((g)[0] + (g)[2]);                           \
		(o)[2] = (1.0f / 6) * ((g)[2] - (g)[0]);                      \
		(o)[3] = (1.0f / 6) * ((g)[0] + 2.0f * (g)[2]);               \
		(o)[4] = (g)[2];                                              \
		(o)[5] = (o)[6] = (o)[7] = (o)[8] = (g)[1];                   \
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

/* The weight transforms' staged elements (ne of them, each wc channels
 * of VL floats, cn filled) to their runs in U, u being the first
 * element's and es the stride between elements: by streaming stores
 * where U allows them (16-byte aligned; at 512 channels U is 38 MB, more
 * than the caches hold, and an ordinary store would first read each line
 * it fills). */
INLINE void stage_out(float *u, size_t es, const float *stage, int ne, int wc, int cn)
{
	const int stream = ((uintptr_t)u & 15) == 0;
	for (int e = 0; e < ne; e++)
		for (int i = 0; i < cn * VL; i += 4) {
			const __m128 v = _mm_load_ps(stage + (size_t)e * wc * VL + i);
			if (stream)
				_mm_stream_ps(u + e * es + i, v);
			else
				_mm_storeu_ps(u + e * es + i, v);
		}
}

#define VW 16
#define VW_FN(name) name##_16
#include "nn/wino_xform.h"
#undef VW
#undef VW_FN
#define VW 8
#define VW_FN(name) name##_8
#include "nn/wino_xform.h"
#undef VW
#undef VW_FN
#define VW 4
#define VW_FN(name) name##_4
#include "nn/wino_xform.h"
#undef VW
#undef VW_FN

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

/* For e < ne (36; 81 for stride 2): M[e] (tb, kw) = V[e] (tb, C) *
 * U[e][:, k0:k0+kw], tb a multiple of mr, k0 and kw of 16;
 * U (ne, ldu/16, C, 16): each run of 16
 * columns whole, row after row (wxf_body). Vectors of w floats. */
INLINE void gemm_fwd_body(const int w, const int mr, const int nv, int ne, float *M, size_t mes,
			  int ldm, const float *V, size_t ves, int ldv, const float *U, int C,
			  int ldu, int tb, int k0, int kw)
{
	const size_t ps = (size_t)C * VL; /* between runs of 16 columns */
	for (int e = 0; e < ne; e++) {
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

/* --- one instance per instruction set ---------------------------------- */

typedef struct isa {
	const char *name;
	int mr;  /* kernel rows; divides TBQ */
	/* the input and output transforms, stride 1 or 2 (s2) */
	void (*xin)(float *, size_t, int, const void *, int, int, const wdims *, long, int, int,
		    int, int);
	void (*xout)(void *, const float *, size_t, int, const wdims *, long, int, int, int,
		     const wout *, int);
	void (*yin)(float *, size_t, int, const float *, const wdims *, long, int, int);
	void (*gemm_fwd)(int, float *, size_t, int, const float *, size_t, int, const float *,
			 int, int, int, int, int);
	void (*gemm_wg)(float *, size_t, int, const float *, size_t, int, const float *, size_t,
			int, int, int, int, int);
	void (*zout)(float *, const float *, size_t, int, int, int, int, int, int);
	void (*wxf)(float *, const float *, int, int, int, int, int, int, int);
} isa;

#define ISA(sfx, TARGET, W, MR, NV)                                                        \
	TARGET static void xin_##sfx(float *V, size_t es, int ldv, const void *x, int h, \
				     int s2, const wdims *d, long t0, int nt, int tb,   \
				     int c0, int cw)                                    \
	{                                                                               \
		if (s2 && h)                                                            \
			xin_body_##W(V, es, ldv, x, 1, 1, d, t0, nt, tb, c0, cw);       \
		else if (s2)                                                            \
			xin_body_##W(V, es, ldv, x, 0, 1, d, t0, nt, tb, c0, cw);       \
		else if (h)                                                             \
			xin_body_##W(V, es, ldv, x, 1, 0, d, t0, nt, tb, c0, cw);       \
		else                                                                    \
			xin_body_##W(V, es, ldv, x, 0, 0, d, t0, nt, tb, c0, cw);       \
	}                                                                               \
	TARGET static void xout_##sfx(void *y, const float *M, size_t es, int ldm,      \
				      const wdims *d, long t0, int nt, int k0, int kw,  \
				      const wout *o, int s2)                            \
	{                                                                               \
		if (s2 && o->h)                                                         \
			xout_body_##W(y, M, es, ldm, d, t0, nt, k0, kw, o, 1, 1);       \
		else if (s2)                                                            \
			xout_body_##W(y, M, es, ldm, d, t0, nt, k0, kw, o, 0, 1);       \
		else if (o->h)                                                          \
			xout_body_##W(y, M, es, ldm, d, t0, nt, k0, kw, o, 1, 0);       \
		else                                                                    \
			xout_body_##W(y, M, es, ldm, d, t0, nt, k0, kw, o, 0, 0);       \
	}                                                                               \
	TARGET static void yin_##sfx(float *Y, size_t es, int ldy, const float *dy,     \
				     const wdims *d, long t0, int nt, int tb)           \
	{                                                                               \
		yin_body_##W(Y, es, ldy, dy, d, t0, nt, tb);                                \
	}                                                                               \
	TARGET static void gemm_fwd_##sfx(int ne, float *M, size_t mes, int ldm,        \
					  const float *V, size_t ves, int ldv,          \
					  const float *U, int C, int ldu, int tb, int k0, \
					  int kw)                                       \
	{                                                                               \
		gemm_fwd_body(W, MR, NV, ne, M, mes, ldm, V, ves, ldv, U, C, ldu, tb, k0, \
			      kw);                                                      \
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
		zout_body_##W(dw, Z, zes, ldz, k0, k1, C, c0, cw);                          \
	}                                                                               \
	TARGET static void wxf_##sfx(float *U, const float *w, int C, int K, int rot,   \
				     int s2, int k0, int c0, int c1)                    \
	{                                                                               \
		if (s2)                                                                 \
			wxf_body_##W(U, w, C, K, 0, 1, k0, c0, c1);                     \
		else                                                                    \
			wxf_body_##W(U, w, C, K, rot, 0, k0, c0, c1);                   \
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
 * w(c, k) rotated 180 degrees and C, K the swapped counts; with s2 the
 * stride-2 transform (81 x C x rup(K,16)) of g. */
static void transform(float *U, const float *w, int C, int K, int rot, int s2)
{
	const isa *z = best();
	/* items: (run of 16 output channels, block of CB input channels) */
	enum { CB = 32 };
	const int runs = rup(K, VL) / VL, cblocks = (C + CB - 1) / CB;
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int it = 0; it < runs * cblocks; it++) {
			const int c0 = it % cblocks * CB, k0 = it / cblocks * VL, c1 = imin(c0 + CB, C);
			z->wxf(U, w, C, K, rot, s2, k0, c0, c1);
		}
		/* the streaming stores (stage_out) seen before the region's end */
		_mm_sfence();
	}
}

void cxr_wino_transform_weights(float *U, const float *w, int C, int K)
{
	transform(U, w, C, K, 0, 0);
}

void cxr_wino_transform_weights_backward(float *U, const float *w, int C, int K)
{
	transform(U, w, K, C, 1, 0);
}

size_t cxr_wino2_weights_size(int C, int K)
{
	return (size_t)NE2 * C * rup(K, VL);
}

void cxr_wino2_transform_weights(float *U, const float *w, int C, int K)
{
	transform(U, w, C, K, 0, 1);
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
			double ub = 4.0 * d->ne * d->c * kp, blk = 4.0 * d->ne * tb * (cp + ks);
			double t = 2.0 * d->ne * tb * d->c * ks / FLOPS + ub / ns / bw(ub, 1) +
				   (double)tb * ks * XF * d->ne / NE;
			if (blk > L2FIT)
				t += 2 * blk / bw(blk, nthr);
			t = t * rounds + (double)blocks * tb * cp * XF * d->ne / NE;
			if (t < bestt * 0.999) {
				bestt = t;
				best = (fplan){ tb, ks, (kp + ks - 1) / ks, nblk, 0, 0, 0 };
			}
		}
	}
	best.ves = skew((size_t)best.tb * cp);
	best.mes = skew((size_t)best.tb * best.ks);
	best.per = d->ne * (best.ves + best.mes);
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

size_t cxr_wino2_workspace_size(int N, int H, int W, int C, int K)
{
	wdims d = dims_of(N, H, W, C, K, 2);
	size_t most = 0;
	if (d.nt == 0 || C < 1 || K < 1)
		return 0;
	for (int t = 1; t <= omp_get_num_procs(); t++) {
		const size_t a = plan_fwd(&d, t).per * t;
		most = a > most ? a : most;
	}
	return most;
}

/* --- the calls ----------------------------------------------------------- */

void cxr_wino_forward(float *y, const float *x, const float *U, int N, int H, int W, int C,
		      int K, float *ws, int accumulate)
{
	cxr_wino_forward_act(y, 0, x, 0, U, N, H, W, C, K, ws, accumulate, NULL, 0, NULL);
}

/* The forward of stride 1 or 2 (d.ne) as cxr_wino_forward_act says. */
static void forward(const wdims d, void *y, int y_bf16, const void *x, int x_bf16,
		    const float *U, float *ws, int accumulate, const float *bias, int relu,
		    double *stats)
{
	if (stats && y_bf16)
		cxr_die(CXR_EXIT_DATA, "internal error: the output sums of a Winograd layer's bf16 y");
	const wout o = { !!y_bf16, accumulate, relu, bias, NULL, NULL };
	const int C = d.c, K = d.k;
	if (d.nt == 0 || C < 1 || K < 1)
		return;
	const isa *z = best();
	const int s2 = d.ne == NE2;
	const int nthr = nthreads(), cp = rup(C, VL), kp = rup(K, VL);
	const fplan p = plan_fwd(&d, nthr);
	const long items = p.nblk * p.ns;
	const size_t ves = p.ves, mes = p.mes;
#pragma omp parallel num_threads(nthr)
	{
		int tid = omp_get_thread_num(), nth = omp_get_num_threads();
		float *V = ws + p.per * tid, *M = V + d.ne * ves;
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
				z->xin(V, ves, cp, x, !!x_bf16, s2, &d, t0, nt, p.tb, 0, C);
			last = b;
			int k0 = s * p.ks, kw = imin(p.ks, kp - k0);
			/* only the kernel's row panels that hold tiles: a block's
			 * rows past nt are zero, and xout reads none of them (at
			 * batch 1 the 8x8 stage's 4 tiles filled 4 of 12 rows) */
			z->gemm_fwd(d.ne, M, mes, p.ks, V, ves, cp, U, C, kp, rup(nt, z->mr), k0,
				    kw);
			z->xout(y, M, mes, p.ks, &d, t0, nt, k0, imin(kw, K - k0), &mine, s2);
		}
	}
}

void cxr_wino_forward_act(void *y, int y_bf16, const void *x, int x_bf16, const float *U, int N,
			  int H, int W, int C, int K, float *ws, int accumulate, const float *bias,
			  int relu, double *stats)
{
	forward(dims(N, H, W, C, K), y, y_bf16, x, x_bf16, U, ws, accumulate, bias, relu, stats);
}

void cxr_wino2_forward_act(void *y, int y_bf16, const void *x, int x_bf16, const float *U, int N,
			   int H, int W, int C, int K, float *ws, int accumulate, const float *bias,
			   int relu, double *stats)
{
	forward(dims_of(N, H, W, C, K, 2), y, y_bf16, x, x_bf16, U, ws, accumulate, bias, relu,
		stats);
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
				z->xin(V, ves, p.ldv, x, 0, 0, &d, t0, nt, p.tb, c0, cw);
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
