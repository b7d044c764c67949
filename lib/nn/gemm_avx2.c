/* gemm_avx2 — nn/gemm's register block for CPUs with AVX2 and FMA but
 * not AVX-512 (AMD Zen 1-3, Intel Haswell to Comet Lake): 6 rows of two
 * 8-lane accumulators (12 ymm registers, 2 for the B row, 1 for A's
 * broadcast), the shape BLIS uses there. OpenBLAS ran these products
 * before: its kernel is about as fast (90-93% of the FMA peak on one Zen 3
 * core), but it packs B anew on every call, zeroes C before a product
 * that overwrites it, and cannot add the bias or apply ReLU as it stores
 * (a pass over C of its own). bench/bin/blas_split, ResNet-50's 1x1
 * products at batch 8 on 2 threads: 59.5 ms with weights packed once and
 * the epilogue, against 64.4 in OpenBLAS without it; training's three
 * products a shape (-t) 379 against 403 ms. */
#include "nn/gemm_kernel.h"

#include <immintrin.h>

#include "nn/block_sums.h"

#define AVX2 __attribute__((target("avx2,fma")))

_Static_assert(GEMM_AVX2_MR == 6 && GEMM_AVX2_NR == 16, "the kernel holds 6 rows of 16");

/* Lanes [0, n) of an 8-lane mask for maskload / maskstore: none for n <=
 * 0, all for n >= 8. Those are slow on AMD's cores (a masked load costs
 * what several plain ones do): the code below takes them only at edges. */
AVX2 static inline __m256i lanes8(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The low and high four lanes of v, widened to double. */
AVX2 static inline __m256d lo_pd(__m256 v)
{
	return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}

AVX2 static inline __m256d hi_pd(__m256 v)
{
	return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

/* block_sums_add (block_sums.h) for 4 columns. */
AVX2 static inline void add_shifted(double *s, double *q, __m256d k, __m256d d, __m256d dd,
				    __m256d n)
{
	_mm256_storeu_pd(s, _mm256_add_pd(_mm256_loadu_pd(s), _mm256_fmadd_pd(n, k, d)));
	const __m256d t = _mm256_fmadd_pd(n, k, _mm256_add_pd(d, d));
	_mm256_storeu_pd(q, _mm256_add_pd(_mm256_loadu_pd(q), _mm256_fmadd_pd(k, t, dd)));
}

/* sums[j] += column j's sum of the mr rows' values, sums[sq + j] += that
 * of their squares, from the sums of their differences from the first
 * row (k0, k1; d0, d1 and dd0, dd1: columns 0-7 and 8-15; block_sums.h),
 * for the nr columns there are (lanes past them would reach another
 * column's or another thread's sums). */
AVX2 static inline void add_sums(double *sums, size_t sq, int mr, __m256 k0, __m256 k1,
				 __m256 d0, __m256 d1, __m256 dd0, __m256 dd1, int nr)
{
	const __m256d n = _mm256_set1_pd(mr);
	if (nr >= 16) {
		add_shifted(sums, sums + sq, lo_pd(k0), lo_pd(d0), lo_pd(dd0), n);
		add_shifted(sums + 4, sums + sq + 4, hi_pd(k0), hi_pd(d0), hi_pd(dd0), n);
		add_shifted(sums + 8, sums + sq + 8, lo_pd(k1), lo_pd(d1), lo_pd(dd1), n);
		add_shifted(sums + 12, sums + sq + 12, hi_pd(k1), hi_pd(d1), hi_pd(dd1), n);
		return;
	}
	float k[16], d[16], dd[16];
	_mm256_storeu_ps(k, k0), _mm256_storeu_ps(k + 8, k1);
	_mm256_storeu_ps(d, d0), _mm256_storeu_ps(d + 8, d1);
	_mm256_storeu_ps(dd, dd0), _mm256_storeu_ps(dd + 8, dd1);
	for (int j = 0; j < nr; j++)
		block_sums_add(sums + j, sums + sq + j, mr, k[j], d[j], dd[j]);
}

/* C (mr rows, nr columns) [+]= the accumulators, then the epilogue, as
 * gemm.c's store_block does for the AVX-512 kernel (the same operations
 * in the same order: the sum, C's value, the bias, ReLU); then, where the
 * epilogue asks for them, the stored values' column sums and sums of
 * squares over the mr rows, added to its sums in double. */
AVX2 static inline void store_block(__m256 acc[GEMM_AVX2_MR][2], float *C, int ldc, int mr,
				    int nr, int add, const epilogue *ep)
{
	const int full = nr >= 16;
	const __m256i m0 = lanes8(nr), m1 = lanes8(nr - 8);
	const __m256 zero = _mm256_setzero_ps();
	__m256 b0 = zero, b1 = zero;
	const int bias = ep && ep->bias, relu = ep && ep->relu;
	if (bias) {
		b0 = full ? _mm256_loadu_ps(ep->bias) : _mm256_maskload_ps(ep->bias, m0);
		b1 = full ? _mm256_loadu_ps(ep->bias + 8) : _mm256_maskload_ps(ep->bias + 8, m1);
	}
	const int sums = ep && ep->sums;
	/* the sums' shift (the first row) and its differences' sums */
	__m256 k0 = zero, k1 = zero, s0 = zero, s1 = zero, q0 = zero, q1 = zero;
	for (int i = 0; i < mr; i++) {
		float *c = C + (size_t)i * ldc;
		__m256 x = acc[i][0], y = acc[i][1];
		if (add) {
			x = _mm256_add_ps(x, full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m0));
			y = _mm256_add_ps(y, full ? _mm256_loadu_ps(c + 8) : _mm256_maskload_ps(c + 8, m1));
		}
		if (bias) {
			x = _mm256_add_ps(x, b0);
			y = _mm256_add_ps(y, b1);
		}
		if (relu) { /* v > 0 ? v : 0 (vmaxps returns its second operand, 0, for NaN) */
			x = _mm256_max_ps(x, zero);
			y = _mm256_max_ps(y, zero);
		}
		if (full) {
			_mm256_storeu_ps(c, x);
			_mm256_storeu_ps(c + 8, y);
		} else {
			_mm256_maskstore_ps(c, m0, x);
			_mm256_maskstore_ps(c + 8, m1, y);
		}
		if (sums) {
			if (i == 0)
				k0 = x, k1 = y;
			const __m256 dx = _mm256_sub_ps(x, k0), dy = _mm256_sub_ps(y, k1);
			s0 = _mm256_add_ps(s0, dx);
			s1 = _mm256_add_ps(s1, dy);
			q0 = _mm256_fmadd_ps(dx, dx, q0);
			q1 = _mm256_fmadd_ps(dy, dy, q1);
		}
	}
	if (sums)
		add_sums(ep->sums, ep->sq, mr, k0, k1, s0, s1, q0, q1, nr);
}

/* The six rows of the A panel from two base pointers with offsets 0, s,
 * 2s (six offsets of one base would want more registers than the loop
 * has). Each lane sums its products in k order from zero, as the AVX-512
 * kernel's do. */
AVX2 void gemm_avx2_kernel(int kc, const float *restrict A, a_layout L, const float *restrict B,
			   float *C, int ldc, int mr, int nr, int add, const epilogue *ep)
{
	__m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
	__m256 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
	const size_t s = L.row, s2 = 2 * s;
	const float *a0 = A, *a3 = A + 3 * s;
	/* C's block, read or written at the end, on its way meanwhile; and
	 * the next row panel's (the driver's next call, where the block has
	 * one: a miss from memory outlasts one call's products) */
	for (int i = 0; i < 2 * GEMM_AVX2_MR; i++) {
		_mm_prefetch((const char *)(C + (size_t)i * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *)(C + (size_t)i * ldc + 15), _MM_HINT_T0);
	}
#pragma GCC unroll 4
	for (int p = 0; p < kc; p++, a0 += L.k, a3 += L.k, B += GEMM_AVX2_NR) {
		const __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8);
		__m256 av;
#define ROW(base, off, x, y)                          \
	av = _mm256_broadcast_ss((base) + (off));     \
	x = _mm256_fmadd_ps(av, b0, x);               \
	y = _mm256_fmadd_ps(av, b1, y)
		ROW(a0, 0, c0a, c0b);
		ROW(a0, s, c1a, c1b);
		ROW(a0, s2, c2a, c2b);
		ROW(a3, 0, c3a, c3b);
		ROW(a3, s, c4a, c4b);
		ROW(a3, s2, c5a, c5b);
#undef ROW
	}
	__m256 acc[GEMM_AVX2_MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b},
				       {c3a, c3b}, {c4a, c4b}, {c5a, c5b}};
	store_block(acc, C, ldc, mr, nr, add, ep);
}

/* r[i] = column i of the 8x8 block whose rows were r[0..7]. */
AVX2 static inline void transpose8(__m256 r[8])
{
	__m256 t[8], u[8];
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int h = 0; h < 2; h++) { /* rows 0-3, then 4-7 */
		const __m256 *q = t + 4 * h;
		u[4 * h + 0] = _mm256_shuffle_ps(q[0], q[2], _MM_SHUFFLE(1, 0, 1, 0));
		u[4 * h + 1] = _mm256_shuffle_ps(q[0], q[2], _MM_SHUFFLE(3, 2, 3, 2));
		u[4 * h + 2] = _mm256_shuffle_ps(q[1], q[3], _MM_SHUFFLE(1, 0, 1, 0));
		u[4 * h + 3] = _mm256_shuffle_ps(q[1], q[3], _MM_SHUFFLE(3, 2, 3, 2));
	}
	for (int i = 0; i < 4; i++) {
		r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
		r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
	}
}

AVX2 void gemm_avx2_pack_b(float *restrict dst, const float *b, int ldb, int tb, int n, int j0,
			   int p0, int kc)
{
	const int nr = n - j0 < GEMM_AVX2_NR ? n - j0 : GEMM_AVX2_NR;
	if (!tb) {
		const __m256i m0 = lanes8(nr), m1 = lanes8(nr - 8);
		for (int p = 0; p < kc; p++) {
			const float *s = b + (size_t)(p0 + p) * ldb + j0;
			float *d = dst + (size_t)p * GEMM_AVX2_NR;
			if (nr == GEMM_AVX2_NR) {
				_mm256_store_ps(d, _mm256_loadu_ps(s));
				_mm256_store_ps(d + 8, _mm256_loadu_ps(s + 8));
			} else {
				_mm256_store_ps(d, _mm256_maskload_ps(s, m0));
				_mm256_store_ps(d + 8, _mm256_maskload_ps(s + 8, m1));
			}
		}
		return;
	}
	/* a transposed B's columns (rows of the (n,k) array) 8 at a time,
	 * 8 values of k each, transposed into 8 rows of the panel */
	for (int h = 0; h < GEMM_AVX2_NR; h += 8) {
		const float *cols[8];
		for (int q = 0; q < 8; q++)
			cols[q] = h + q < nr ? b + (size_t)(j0 + h + q) * ldb + p0 : NULL;
		for (int p = 0; p < kc; p += 8) {
			const int left = kc - p;
			const __m256i m = lanes8(left);
			__m256 v[8];
			for (int q = 0; q < 8; q++)
				v[q] = !cols[q]	   ? _mm256_setzero_ps()
				       : left >= 8 ? _mm256_loadu_ps(cols[q] + p)
						   : _mm256_maskload_ps(cols[q] + p, m);
			transpose8(v);
			const int nt = left < 8 ? left : 8;
			for (int t = 0; t < nt; t++)
				_mm256_store_ps(dst + (size_t)(p + t) * GEMM_AVX2_NR + h, v[t]);
		}
	}
}

AVX2 void gemm_avx2_pack_a_columns(float *restrict dst, const float *src, int lda, int mr, int kc)
{
	if (mr < GEMM_AVX2_MR) {
		for (int p = 0; p < kc; p++)
			for (int q = 0; q < GEMM_AVX2_MR; q++)
				dst[(size_t)p * GEMM_AVX2_MR + q] = q < mr ? src[(size_t)p * lda + q] : 0.0f;
		return;
	}
	for (int p = 0; p < kc; p++) {
		const float *s = src + (size_t)p * lda;
		float *d = dst + (size_t)p * GEMM_AVX2_MR;
		_mm_storeu_ps(d, _mm_loadu_ps(s));
		_mm_storel_pi((__m64 *)(d + 4), _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(s + 4)));
	}
}
