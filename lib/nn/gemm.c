/* gemm — own sgemm (BLIS-style packing; a 14x32 register block on
 * AVX-512, 6x16 on AVX2: nn/gemm_avx2.c), OpenBLAS elsewhere (see gemm.h).
 *
 * C (m,n) [+]= A (m,k) B (k,n). Blocks: B in KC x NC slabs packed once
 * per slab and shared by all threads (NR-column panels, row by row), A in
 * MC x KC blocks packed by the thread that uses them (MR-row panels:
 * each row a run along k when A's rows lie along k, MR-value columns when
 * A is transposed: whichever is a copy); the micro-kernel keeps an MR x NR
 * block of C in registers (14x32 in 28 on AVX-512, 6x16 in 12 on AVX2)
 * for a whole KC run. The sizes are a geometry per instruction set. Work items are (row
 * block, column panel group) pairs, divided evenly among the threads,
 * each C element computed whole by one thread in a fixed order of k, so
 * results do not depend on the schedule or the thread count. A product
 * with few rows and columns but a long k (a weight gradient: k = N*H*W)
 * is split along k instead, each thread summing into its own copy of C,
 * added up in thread order. */
#include "nn/gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/hugemem.h"
#include "base/parallel.h"
#include "nn/block_sums.h"
#include "nn/gemm_kernel.h"
#include "nn/precision.h"

/* The AVX-512 kernels' block sizes (fp32 and bf16), as constants where
 * only those kernels use them */
#define MR 14
#define NR 32
#define KC 384
#define MC 224  /* a multiple of MR */
#define NC 3072 /* a multiple of NR */

#define AVX512 __attribute__((target("avx512f")))

/* An own kernel's register block (mr x nr) and cache blocks: kc values
 * of k (a B panel of kc x nr stays in L1), mc rows of A (a multiple of
 * mr, in L2), nc columns of B (a multiple of nr); and its fp32 code: the
 * micro-kernel (C [+]= an A panel times a B panel, then the epilogue),
 * one B panel's packing, one transposed A panel's (gemm_kernel.h's
 * gemm_avx2_* are the AVX2 ones). */
typedef struct geom {
	int isa; /* CXR_GEMM_AVX512 or CXR_GEMM_AVX2 */
	int mr, nr, kc, mc, nc;
	int sums_in_store; /* the kernel adds column sums (epilogue.sums) */
	void (*kernel)(int kc, const float *restrict A, a_layout L, const float *restrict B,
		       float *C, int ldc, int mr, int nr, int add, const epilogue *ep);
	void (*pack_b)(float *restrict dst, const float *b, int ldb, int tb, int n, int j0, int p0,
		       int kc);
	void (*pack_a_columns)(float *restrict dst, const float *src, int lda, int mr, int kc);
} geom;

enum { CXR_GEMM_BLAS, CXR_GEMM_AVX512, CXR_GEMM_AVX2 };

static int impl = -1; /* CXR_GEMM_* */

static const char *const impl_names[] = {"blas", "avx512", "avx2"};

/* Whether this CPU runs implementation CXR_GEMM_* isa. */
static int cpu_runs(int isa)
{
	__builtin_cpu_init();
	/* __builtin_cpu_supports returns a bit mask, not 1 */
	switch (isa) {
	case CXR_GEMM_AVX512:
		return __builtin_cpu_supports("avx512f") != 0;
	case CXR_GEMM_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	default:
		return 1;
	}
}

static int isa_default(void)
{
	const char *e = getenv("CXR_GEMM");
	if (e && !strcmp(e, "blas"))
		return CXR_GEMM_BLAS;
	if (cpu_runs(CXR_GEMM_AVX512))
		return CXR_GEMM_AVX512;
	return cpu_runs(CXR_GEMM_AVX2) ? CXR_GEMM_AVX2 : CXR_GEMM_BLAS;
}

static int current(void)
{
	if (impl < 0)
		impl = isa_default();
	return impl;
}

const char *cxr_gemm_impl(void)
{
	return impl_names[current()];
}

int cxr_gemm_use(const char *name)
{
	if (!name) {
		impl = -1;
		return 0;
	}
	for (int i = 0; i < (int)(sizeof impl_names / sizeof *impl_names); i++)
		if (!strcmp(name, impl_names[i]) && cpu_runs(i)) {
			impl = i;
			return 0;
		}
	return -1;
}

/* The mask of lanes [0, n) of a 16-lane vector: none for n <= 0, all
 * for n >= 16. */
static inline __mmask16 lanes(int n)
{
	return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* ---- packing ---- */

/* r[i] = column i of the 16x16 block whose rows were r[0..15]. */
AVX512 static inline void transpose16(__m512 r[16])
{
	__m512 t[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) {
		__m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
		__m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
		r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++) {
			t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0x88);
			t[8 * i + j + 4] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0xdd);
		}
	for (int j = 0; j < 8; j++) {
		r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
		r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
	}
}

/* One MR-row panel of a transposed A, whose columns hold mr <= MR
 * contiguous values: kc columns of MR values (those past mr zero). */
AVX512 static void pack_a_columns512(float *restrict d, const float *src, int lda, int mr, int kc)
{
	const __mmask16 keep = lanes(mr), all = lanes(MR);
	for (int p = 0; p < kc; p++)
		_mm512_mask_storeu_ps(d + p * MR, all, _mm512_maskz_loadu_ps(keep, src + (size_t)p * lda));
}

/* dst: rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) as g->mr-row panels
 * of mr*kc values (row r at r*kc), in the layout that costs least to make
 * from A's: a row of A along k (ta 0) is copied as it is, each row a run
 * of kc (a_layout: row stride kc, k stride 1); a transposed A, whose
 * columns hold mr contiguous values, is copied column by column (row
 * stride 1, k stride mr). Rows past mc are zero. */
static void pack_a(const geom *g, float *restrict dst, const float *a, int lda, int ta, int i0,
		   int mc, int p0, int kc)
{
	const int R = g->mr;
	for (int r = 0; r < mc; r += R) {
		const int mr = mc - r < R ? mc - r : R;
		float *d = dst + (size_t)r * kc;
		if (ta) {
			g->pack_a_columns(d, a + (size_t)p0 * lda + i0 + r, lda, mr, kc);
			continue;
		}
		for (int q = 0; q < R; q++) {
			if (q < mr)
				memcpy(d + (size_t)q * kc, a + (size_t)(i0 + r + q) * lda + p0,
				       (size_t)kc * sizeof *d);
			else
				memset(d + (size_t)q * kc, 0, (size_t)kc * sizeof *d);
		}
	}
}

/* The layout pack_a (or pack_a_bf16) leaves, with run length len (kc,
 * or kc2 pairs). */
static a_layout a_layout_of(const geom *g, int ta, int len)
{
	return ta ? (a_layout){1, (size_t)g->mr} : (a_layout){(size_t)len, 1};
}

/* dst: panel of columns [j0, j0+NR) (those < n zero-padded) x rows
 * [p0, p0+kc) of op(B), row by row. A transposed B (a weight matrix
 * (O,C) used as (C,O)) has its columns contiguous: 16 of them at a time
 * are transposed in registers, as pack_a does with rows. */
AVX512 static void pack_b512(float *restrict dst, const float *b, int ldb, int tb, int n, int j0,
			  int p0, int kc)
{
	int nr = n - j0 < NR ? n - j0 : NR;
	if (tb) {
		for (int h = 0; h < NR; h += 16) {
			const float *cols[16];
			for (int q = 0; q < 16; q++)
				cols[q] = h + q < nr ? b + (size_t)(j0 + h + q) * ldb + p0 : NULL;
			for (int p = 0; p < kc; p += 16) {
				int left = kc - p;
				__mmask16 m = lanes(left);
				__m512 v[16];
				for (int q = 0; q < 16; q++)
					v[q] = cols[q] ? _mm512_maskz_loadu_ps(m, cols[q] + p) : _mm512_setzero_ps();
				transpose16(v);
				int nt = left < 16 ? left : 16;
				for (int t = 0; t < nt; t++)
					_mm512_store_ps(dst + (size_t)(p + t) * NR + h, v[t]);
			}
		}
	} else {
		__mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
		for (int p = 0; p < kc; p++) {
			const float *s = b + (size_t)(p0 + p) * ldb + j0;
			float *d = dst + (size_t)p * NR;
			_mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, s));
			_mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
		}
	}
}

/* C (mr rows, nr columns) [+]= the accumulators of a micro-kernel, then
 * the epilogue ep (bias from column 0 of this block) if given. */
AVX512 static inline void store_block(__m512 acc[MR][2], float *C, int ldc, int mr, int nr,
				      int add, const epilogue *ep)
{
	__mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
	__m512 b0 = _mm512_setzero_ps(), b1 = b0, zero = b0;
	const int bias = ep && ep->bias, relu = ep && ep->relu;
	if (bias) {
		b0 = _mm512_maskz_loadu_ps(m0, ep->bias);
		b1 = _mm512_maskz_loadu_ps(m1, ep->bias + 16);
	}
	for (int i = 0; i < mr; i++) {
		float *c = C + (size_t)i * ldc;
		__m512 x = acc[i][0], y = acc[i][1];
		if (add) {
			x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m0, c));
			y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m1, c + 16));
		}
		if (bias) {
			x = _mm512_add_ps(x, b0);
			y = _mm512_add_ps(y, b1);
		}
		if (relu) { /* v > 0 ? v : 0, NaN and -0 to +0 as there */
			x = _mm512_max_ps(x, zero);
			y = _mm512_max_ps(y, zero);
		}
		_mm512_mask_storeu_ps(c, m0, x);
		_mm512_mask_storeu_ps(c + 16, m1, y);
	}
}

/* ---- the micro-kernel ---- */

/* What both micro-kernels (kernel, kernel_bf16) share: MR = 14 rows of
 * two 16-lane accumulators, and the rows of the A panel addressed from
 * four base pointers with offsets 0, s, 2s, 3s (fourteen offsets i*s of
 * one base want more registers than x86 has: the compiler reloaded three
 * of them from the stack every step). ROW(p, off, x, y) is the kernel's
 * step for the row at p[off] into accumulators x, y. */
_Static_assert(MR == 14, "the micro-kernels hold 14 rows");
#define BLOCK_ACCUMULATORS                                                                   \
	__m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a; \
	__m512 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;             \
	__m512 c6a = c0a, c6b = c0a, c7a = c0a, c7b = c0a, c8a = c0a, c8b = c0a;             \
	__m512 c9a = c0a, c9b = c0a, caa = c0a, cab = c0a, cba = c0a, cbb = c0a;             \
	__m512 cca = c0a, ccb = c0a, cda = c0a, cdb = c0a
#define BLOCK_ROW_BASES(T, A, s)                                                             \
	const size_t s2 = 2 * (s), s3 = 3 * (s);                                             \
	T *a0 = (A), *a4 = (A) + 4 * (s), *a8 = (A) + 8 * (s), *a12 = (A) + 12 * (s)
#define BLOCK_ROWS(ROW, s)                                                                   \
	ROW(a0, 0, c0a, c0b);                                                                \
	ROW(a0, s, c1a, c1b);                                                                \
	ROW(a0, s2, c2a, c2b);                                                               \
	ROW(a0, s3, c3a, c3b);                                                               \
	ROW(a4, 0, c4a, c4b);                                                                \
	ROW(a4, s, c5a, c5b);                                                                \
	ROW(a4, s2, c6a, c6b);                                                               \
	ROW(a4, s3, c7a, c7b);                                                               \
	ROW(a8, 0, c8a, c8b);                                                                \
	ROW(a8, s, c9a, c9b);                                                                \
	ROW(a8, s2, caa, cab);                                                               \
	ROW(a8, s3, cba, cbb);                                                               \
	ROW(a12, 0, cca, ccb);                                                               \
	ROW(a12, s, cda, cdb)
#define BLOCK_ACC_ARRAY(acc)                                                                 \
	__m512 acc[MR][2] = {                                                                \
		{c0a, c0b}, {c1a, c1b}, {c2a, c2b}, {c3a, c3b}, {c4a, c4b}, {c5a, c5b},      \
		{c6a, c6b}, {c7a, c7b}, {c8a, c8b}, {c9a, c9b}, {caa, cab}, {cba, cbb},      \
		{cca, ccb}, {cda, cdb},                                                      \
	}

/* C (mr <= MR rows, nr <= NR columns, row stride ldc) [+]= A panel (MR
 * x kc, strides L, pack_a) B panel (kc x NR). */
AVX512 static void kernel512(int kc, const float *restrict A, a_layout L, const float *restrict B,
			  float *C, int ldc, int mr, int nr, int add, const epilogue *ep)
{
	BLOCK_ACCUMULATORS;
	const size_t s = L.row;
	BLOCK_ROW_BASES(const float, A, s);
	for (int p = 0; p < kc; p++, a0 += L.k, a4 += L.k, a8 += L.k, a12 += L.k, B += NR) {
		__m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16), av;
#define ROW(p, off, x, y)                              \
	av = _mm512_set1_ps((p)[off]);                 \
	x = _mm512_fmadd_ps(av, b0, x);                \
	y = _mm512_fmadd_ps(av, b1, y)
		BLOCK_ROWS(ROW, s);
#undef ROW
	}
	BLOCK_ACC_ARRAY(acc);
	store_block(acc, C, ldc, mr, nr, add, ep);
}

static const geom g512 = {CXR_GEMM_AVX512, MR, NR, KC, MC, NC, 0,
			  kernel512, pack_b512, pack_a_columns512};
/* Zen 3: a 16 KB B panel of the 32 KB L1, 144 KB of A of the 512 KB L2 */
static const geom g256 = {CXR_GEMM_AVX2, GEMM_AVX2_MR, GEMM_AVX2_NR, 256, 144, 3072, 1,
			  gemm_avx2_kernel, gemm_avx2_pack_b, gemm_avx2_pack_a_columns};

/* The own kernel's geometry, NULL where OpenBLAS runs. */
static const geom *own(void)
{
	switch (current()) {
	case CXR_GEMM_AVX512:
		return &g512;
	case CXR_GEMM_AVX2:
		return &g256;
	default:
		return NULL;
	}
}


/* ---- bf16 products (AVX512_BF16) ----
 *
 * The same blocking with both operands rounded to bfloat16 as they are
 * packed (round to nearest even, as vcvtneps2bf16: subnormals to zero)
 * and vdpbf16ps in the micro-kernel: each 32-bit lane of a packed panel
 * holds two bf16 values adjacent in k (the lower half first), and one
 * instruction adds both products to an fp32 accumulator. A k-run of odd
 * length is padded with a zero. Sums are fp32 throughout. */

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define KCB 768 /* k values per block: the same bytes as KC floats */


/* 16 lanes of pairs from two rows of 16 floats, lo (k even) and hi (k
 * odd), each loaded under mask m (the rest zero). */
BF16 static inline __m512i pairs_of_rows(const float *lo, const float *hi, __mmask16 m)
{
	__m256i l = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, lo));
	__m256i h = hi ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, hi))
		       : _mm256_setzero_si256();
	return _mm512_or_si512(_mm512_cvtepu16_epi32(l),
			       _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* The 16 pairs of the 32 consecutive values at src, those from left on
 * (left < 32) zero: pair q (k = 2q, 2q+1) in lane q, the lower half first. */
BF16 static inline __m512i pairs_of_run(const float *src, int left)
{
	return (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(lanes(left - 16), src + 16),
					    _mm512_maskz_loadu_ps(lanes(left), src));
}

/* For rows[0..15] (NULL: zero) contiguous along k over [0, kc): dst +
 * q*stride gets the 16 rows' pair q (k = 2q, 2q+1) in lanes 0..15,
 * stored under mask keep. */
BF16 static void pack_pairs_across(uint32_t *restrict dst, size_t stride, __mmask16 keep,
				   const float *const rows[16], int kc)
{
	const int kc2 = (kc + 1) / 2;
	for (int p = 0; p < kc; p += 32) {
		__m512 v[16];
		for (int r = 0; r < 16; r++)
			v[r] = rows[r] ? _mm512_castsi512_ps(pairs_of_run(rows[r] + p, kc - p))
				       : _mm512_setzero_ps();
		transpose16(v);
		int q0 = p / 2, nq = kc2 - q0 < 16 ? kc2 - q0 : 16;
		for (int q = 0; q < nq; q++)
			_mm512_mask_storeu_epi32(dst + (size_t)(q0 + q) * stride, keep,
						 _mm512_castps_si512(v[q]));
	}
}

/* For a matrix whose row p (along k) holds 16 (or n < 16) contiguous
 * values at src + p*ld: dst + q*stride gets pair q of those 16 columns. */
BF16 static void pack_pairs_along(uint32_t *restrict dst, size_t stride, __mmask16 keep,
				  const float *src, size_t ld, int n, int kc)
{
	__mmask16 m = lanes(n);
	for (int p = 0, q = 0; p < kc; p += 2, q++) {
		const float *lo = src + (size_t)p * ld;
		const float *hi = p + 1 < kc ? lo + ld : NULL;
		_mm512_mask_storeu_epi32(dst + (size_t)q * stride, keep, pairs_of_rows(lo, hi, m));
	}
}

/* pack_pairs_along for a matrix held in bf16 already: pairs are
 * interleaved, not converted (the same words pack_pairs_along makes of the
 * fp32 values the bf16 ones stand for). */
BF16 static void pack_pairs_along16(uint32_t *restrict dst, size_t stride, __mmask16 keep,
				    const uint16_t *src, size_t ld, int n, int kc)
{
	__mmask16 m = lanes(n);
	for (int p = 0, q = 0; p < kc; p += 2, q++) {
		const uint16_t *lo = src + (size_t)p * ld;
		__m512i l = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, lo));
		__m512i h = p + 1 < kc ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, lo + ld))
				       : _mm512_setzero_si512();
		_mm512_mask_storeu_epi32(dst + (size_t)q * stride, keep,
					 _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
	}
}

/* pack_a's bf16 twin: MR-row panels of MR*(kc+1)/2 pairs in pack_a's
 * layouts. A row of A along k becomes its run of pairs by conversion
 * alone (packing into MR-lane vectors instead cost a quarter of the
 * kernel's time at inference: a 16x16 transpose per 32 values); a
 * transposed A's columns give MR lanes of pairs directly, from fp32 a or
 * (ta 1 only) from a16, an A held in bf16 (an A along k held in bf16 is
 * read where it lies: a16_panel). */
BF16 static void pack_a_bf16(uint32_t *restrict dst, const float *a, const uint16_t *a16,
			     int lda, int ta, int i0, int mc, int p0, int kc)
{
	const int kc2 = (kc + 1) / 2;
	for (int r = 0; r < mc; r += MR) {
		const int mr = mc - r < MR ? mc - r : MR;
		uint32_t *d = dst + (size_t)r * kc2;
		if (ta && a16) {
			pack_pairs_along16(d, MR, lanes(MR), a16 + (size_t)p0 * lda + i0 + r,
					   (size_t)lda, mr, kc);
			continue;
		}
		if (ta) {
			pack_pairs_along(d, MR, lanes(MR), a + (size_t)p0 * lda + i0 + r, (size_t)lda,
					 mr, kc);
			continue;
		}
		for (int q = 0; q < MR; q++) {
			uint32_t *row = d + (size_t)q * kc2;
			if (q >= mr) {
				memset(row, 0, (size_t)kc2 * sizeof *row);
				continue;
			}
			const float *src = a + (size_t)(i0 + r + q) * lda + p0;
			for (int p = 0; p < kc; p += 32) {
				const int left = kc - p, nq = left >= 32 ? 16 : (left + 1) / 2;
				_mm512_mask_storeu_epi32(row + p / 2, lanes(nq), pairs_of_run(src + p, left));
			}
		}
	}
}

/* pack_b's bf16 twin: one NR-column panel, (kc+1)/2 pairs of NR lanes;
 * from fp32 b, or (tb 0 only) from b16, a B held in bf16. */
BF16 static void pack_b_bf16(uint32_t *restrict dst, const float *b, const uint16_t *b16,
			     int ldb, int tb, int n, int j0, int p0, int kc)
{
	int nr = n - j0 < NR ? n - j0 : NR;
	for (int h = 0; h < NR; h += 16) {
		int cols = nr - h;
		if (cols < 0)
			cols = 0;
		if (cols > 16)
			cols = 16;
		if (b16) {
			pack_pairs_along16(dst + h, NR, 0xffff, b16 + (size_t)p0 * ldb + j0 + h,
					   (size_t)ldb, cols, kc);
		} else if (tb) {
			const float *rows[16];
			for (int q = 0; q < 16; q++)
				rows[q] = q < cols ? b + (size_t)(j0 + h + q) * ldb + p0 : NULL;
			pack_pairs_across(dst + h, NR, 0xffff, rows, kc);
		} else {
			pack_pairs_along(dst + h, NR, 0xffff, b + (size_t)p0 * ldb + j0 + h,
					 (size_t)ldb, cols, kc);
		}
	}
}

/* Where a bf16 product's block of results goes: to fp32 f or bf16 h (row
 * stride ld), each result first added to what addf (fp32) or addh (bf16)
 * hold at the same place (NULL: nothing), then the epilogue's bias and
 * ReLU as store_block applies them. */
typedef struct tile_out {
	float *f;
	uint16_t *h;
	const float *addf;
	const uint16_t *addh;
	size_t ld;
	const float *bias;
	int relu;
	/* a bf16 h's column sums and sums of squares of the values stored
	 * (NULL: none), added at s0[j], s1[j] for its column j */
	double *s0, *s1;
} tile_out;

/* d[0..nr) += the 16-lane halves of v (lanes past nr left alone). */
BF16 static inline void add_to_doubles(double *d, __m512 v, int nr)
{
	const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
	const __m512d hi = _mm512_cvtps_pd(
		_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
	const __mmask8 ml = (__mmask8)(nr >= 8 ? 0xff : (1u << (nr > 0 ? nr : 0)) - 1);
	const __mmask8 mh = (__mmask8)(nr >= 16 ? 0xff : nr > 8 ? (1u << (nr - 8)) - 1 : 0);
	_mm512_mask_storeu_pd(d, ml, _mm512_add_pd(_mm512_maskz_loadu_pd(ml, d), lo));
	_mm512_mask_storeu_pd(d + 8, mh, _mm512_add_pd(_mm512_maskz_loadu_pd(mh, d + 8), hi));
}

/* 16 bf16 values (under mask m, the rest zero) as floats. */
BF16 static inline __m512 load_bf16(__mmask16 m, const uint16_t *p)
{
	__m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
	return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

/* store_block for the bf16 kernel, to the places o names. */
BF16 static inline void store_tile(__m512 acc[MR][2], const tile_out *o, int mr, int nr)
{
	__mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
	__m512 b0 = _mm512_setzero_ps(), b1 = b0, zero = b0;
	/* the tile's column sums (s) and sums of squares (q), in float over
	 * its MR rows, then added in double */
	__m512 sx = zero, sy = zero, qx = zero, qy = zero;
	if (o->bias) {
		b0 = _mm512_maskz_loadu_ps(m0, o->bias);
		b1 = _mm512_maskz_loadu_ps(m1, o->bias + 16);
	}
	for (int i = 0; i < mr; i++) {
		const size_t at = (size_t)i * o->ld;
		__m512 x = acc[i][0], y = acc[i][1];
		if (o->addf) {
			x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m0, o->addf + at));
			y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m1, o->addf + at + 16));
		} else if (o->addh) {
			x = _mm512_add_ps(x, load_bf16(m0, o->addh + at));
			y = _mm512_add_ps(y, load_bf16(m1, o->addh + at + 16));
		}
		if (o->bias) {
			x = _mm512_add_ps(x, b0);
			y = _mm512_add_ps(y, b1);
		}
		if (o->relu) {
			x = _mm512_max_ps(x, zero);
			y = _mm512_max_ps(y, zero);
		}
		if (o->h) {
			const __m256i hx = (__m256i)_mm512_cvtneps_pbh(x);
			const __m256i hy = (__m256i)_mm512_cvtneps_pbh(y);
			_mm256_mask_storeu_epi16(o->h + at, m0, hx);
			_mm256_mask_storeu_epi16(o->h + at + 16, m1, hy);
			if (o->s0) { /* the values as stored */
				const __m512 rx = _mm512_castsi512_ps(
					_mm512_slli_epi32(_mm512_cvtepu16_epi32(hx), 16));
				const __m512 ry = _mm512_castsi512_ps(
					_mm512_slli_epi32(_mm512_cvtepu16_epi32(hy), 16));
				sx = _mm512_add_ps(sx, rx), sy = _mm512_add_ps(sy, ry);
				qx = _mm512_fmadd_ps(rx, rx, qx), qy = _mm512_fmadd_ps(ry, ry, qy);
			}
		} else {
			_mm512_mask_storeu_ps(o->f + at, m0, x);
			_mm512_mask_storeu_ps(o->f + at + 16, m1, y);
		}
	}
	if (o->h && o->s0) {
		add_to_doubles(o->s0, sx, nr);
		add_to_doubles(o->s0 + 16, sy, nr - 16);
		add_to_doubles(o->s1, qx, nr);
		add_to_doubles(o->s1 + 16, qy, nr - 16);
	}
}

/* kernel()'s bf16 twin over kc2 pairs, its results stored as o says. */
BF16 static void kernel_bf16(int kc2, const uint32_t *restrict A, a_layout L,
			     const uint32_t *restrict B, const tile_out *o, int mr, int nr)
{
	BLOCK_ACCUMULATORS;
	const size_t s = L.row;
	BLOCK_ROW_BASES(const uint32_t, A, s);
	for (int q = 0; q < kc2; q++, a0 += L.k, a4 += L.k, a8 += L.k, a12 += L.k, B += NR) {
		__m512bh b0 = (__m512bh)_mm512_load_si512(B), b1 = (__m512bh)_mm512_load_si512(B + 16);
		__m512bh av;
#define ROW(p, off, x, y)                                    \
	av = (__m512bh)_mm512_set1_epi32((int)(p)[off]);     \
	x = _mm512_dpbf16_ps(x, av, b0);                     \
	y = _mm512_dpbf16_ps(y, av, b1)
		BLOCK_ROWS(ROW, s);
#undef ROW
	}
	BLOCK_ACC_ARRAY(acc);
	store_tile(acc, o, mr, nr);
}

/* ---- drivers ---- */

/* Packing buffers live as long as the thread (the OpenMP pool's threads
 * and the caller's), grown when a product needs more: a fresh allocation
 * per call would be pages mapped and zeroed by the kernel every time. A
 * thread that ends (the pool shrinks when the thread count does) frees
 * its own, by a thread-specific key's destructor. */
static __thread float *tls_buf[3];
static __thread size_t tls_size[3];
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;

static void free_buffers(void *unused)
{
	(void)unused;
	for (int i = 0; i < 3; i++) {
		free(tls_buf[i]);
		tls_buf[i] = NULL;
		tls_size[i] = 0;
	}
}

static void make_buffers_key(void)
{
	if (pthread_key_create(&buffers_key, free_buffers))
		cxr_die(CXR_EXIT_DATA, "cannot create a thread key for the matrix product's buffers");
}

static float *buffer(int which, size_t floats)
{
	if (tls_size[which] < floats) {
		pthread_once(&buffers_once, make_buffers_key);
		free(tls_buf[which]);
		tls_buf[which] = cxr_aligned_huge(64, floats * sizeof(float));
		if (!tls_buf[which])
			cxr_die(CXR_EXIT_DATA, "out of memory for a matrix product");
		tls_size[which] = floats;
		/* non-NULL: the destructor runs when the thread ends */
		pthread_setspecific(buffers_key, tls_buf);
	}
	return tls_buf[which];
}

/* The work of one column chunk, split into items: nrb row blocks (of
 * whole MR-row panels, as even as the panels allow) times groups of
 * NR-column panels, items taken in group-major order, thread t the t-th
 * of nt equal runs of them. Chosen among a few splits by the largest
 * share of any thread (kernel calls, plus a quarter of one per row panel
 * packed): rows alone when they divide well; columns as well when they do
 * not (a batch-1 layer has a few hundred rows: blocks of MC rows would
 * give one thread 224 and the other 32). Which thread computes which
 * element does not change any result: each is summed whole, in k order. */
typedef struct {
	int P, nrb, groups, panels, items;
} split;

/* Item it: row panels [*r0, *r1) (its block), column panels [*g0, *g1)
 * (its group). */
static void item_extent(const split *s, size_t it, size_t *r0, size_t *r1, size_t *g0,
			size_t *g1)
{
	cxr_par_range((size_t)s->P, (int)(it % s->nrb), s->nrb, r0, r1);
	cxr_par_range((size_t)s->panels, (int)(it / s->nrb), s->groups, g0, g1);
}

static double split_cost(const split *s, int nt)
{
	double worst = 0;
	for (int t = 0; t < nt; t++) {
		double load = 0;
		size_t it0, it1, r0, r1, g0, g1;
		cxr_par_range((size_t)s->items, t, nt, &it0, &it1);
		for (size_t it = it0; it < it1; it++) {
			item_extent(s, it, &r0, &r1, &g0, &g1);
			load += (double)(r1 - r0) * ((double)(g1 - g0) + 0.25);
		}
		worst = load > worst ? load : worst;
	}
	return worst;
}

static split choose_split(const geom *g, int m, int panels, int nt)
{
	const int P = (m + g->mr - 1) / g->mr, nrb0 = (m + g->mc - 1) / g->mc;
	const int rows[2] = {nrb0, (nrb0 + nt - 1) / nt * nt};
	const int cols[3] = {1, nt, 2 * nt};
	split best = {P, nrb0, 1, panels, nrb0};
	double best_cost = split_cost(&best, nt);
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < 3; c++) {
			split s = {P, rows[r], cols[c], panels, rows[r] * cols[c]};
			if (s.nrb > P || s.groups > panels)
				continue;
			double cost = split_cost(&s, nt);
			if (cost < best_cost - 1e-9) {
				best = s;
				best_cost = cost;
			}
		}
	return best;
}

/* Operands held in bf16 (cxr_gemm_prepacked_act, cxr_gemm_bf16_act;
 * NULL: fp32): A (along k, ta 0) read where it lies instead of packed,
 * or (ta 1) packed from bf16; B, (k,n) row-major, packed from bf16; C
 * stored in bf16. */
typedef struct bf16_io {
	const uint16_t *a;
	uint16_t *c;
	const uint16_t *b;
	/* with c: thread t adds the column sums of the values it stores at
	 * stats[t * 2n + j], their squares' at stats[t * 2n + n + j] */
	double *stats;
} bf16_io;

/* The A panel of rows [row, row+mr) x values [pc, pc+kc) of a bf16 A
 * (row stride lda values), in pairs: in place when it has all MR rows and
 * its pairs lie on four-byte boundaries, else its rows copied to buf (an
 * odd run's last pair completed with a zero, the rows past mr zero), as
 * pack_a_bf16 would leave them. */
static const uint32_t *a16_panel(uint32_t *buf, const uint16_t *a, int lda, int row, int mr,
				 int pc, int kc, a_layout *L)
{
	const uint16_t *src = a + (size_t)row * lda + pc;
	const int kc2 = (kc + 1) / 2;
	if (mr == MR && !((lda | kc) & 1) && !((uintptr_t)src & 3)) {
		*L = (a_layout){(size_t)lda / 2, 1};
		return (const uint32_t *)src;
	}
	for (int q = 0; q < MR; q++) {
		uint32_t *d = buf + (size_t)q * kc2;
		d[kc2 - 1] = 0;
		if (q < mr)
			memcpy(d, src + (size_t)q * lda, (size_t)kc * sizeof *src);
		else
			memset(d, 0, (size_t)kc2 * sizeof *d);
	}
	*L = (a_layout){(size_t)kc2, 1};
	return buf;
}

/* sums[j] += the sum of column j of an mr x nr block of fp32 C just
 * stored (in L1 still), sums[sq + j] += that of its squares, by
 * block_sums.h (as the AVX2 kernel's store adds them): epilogue.sums for
 * a kernel that does not add them as it stores. */
static void tile_sums(double *sums, size_t sq, const float *c, int ldc, int mr, int nr)
{
	float d[NR] = {0}, dd[NR] = {0};
	for (int i = 0; i < mr; i++) {
		const float *row = c + (size_t)i * ldc;
		for (int j = 0; j < nr; j++) {
			const float v = row[j] - c[j];
			d[j] += v;
			dd[j] += v * v;
		}
	}
	for (int j = 0; j < nr; j++)
		block_sums_add(sums + j, sums + sq + j, mr, c[j], d[j], dd[j]);
}

/* C [+]= op(A) op(B) in geometry g with the work spread over nt threads
 * by row blocks and column-panel groups; bf16 (g512 only): products of
 * bf16-rounded operands, and io (NULL: none) the operands kept in bf16.
 * A packed panel holds kc floats or (kc+1)/2 bf16 pairs per lane, g->kc
 * four-byte words at most either way. A bf16 C over more than one block of k takes the blocks'
 * sums in an fp32 buffer (in the order an fp32 C would: the value C had
 * added with the first block's), rounded once, with the last block. */
static void gemm_blocked(const geom *g, int bf16, int ta, int tb, int m, int n, int k,
			 const float *a, int lda, const float *b, int ldb, const float *prepacked,
			 int add, const epilogue *ep, float *c, int ldc, int nt, const bf16_io *io)
{
	const int NRg = g->nr, NCg = g->nc, MRg = g->mr;
	const size_t panel = (size_t)g->kc * NRg; /* floats (or words) per packed B panel */
	const int ncb = n < NCg ? n : NCg, kcmax = bf16 ? KCB : g->kc;
	const int all_panels = (n + NRg - 1) / NRg, nkb = (k + kcmax - 1) / kcmax;
	/* AVX2, A's rows along k: read where they lie, as the copy would
	 * hold them, all but a last panel short of mr rows (the kernel reads
	 * all of a panel's rows). The copy cost 2% of batch-8 scoring, and
	 * packing them k-major (one stream into the kernel rather than six)
	 * cost more than it gained. */
	const int a_direct = !bf16 && g->isa == CXR_GEMM_AVX2 && !ta;
	const uint16_t *a16 = io ? io->a : NULL, *b16 = io ? io->b : NULL;
	const int a16_in_place = a16 && !ta;
	uint16_t *c16 = io ? io->c : NULL;
	/* B shared, from the calling thread's buffer (or packed already: see
	 * cxr_gemm_pack_b); A per thread, its own */
	float *bp = prepacked ? NULL : buffer(0, panel * (size_t)((ncb + NRg - 1) / NRg));
	float *part = c16 && nkb > 1 ? buffer(2, (size_t)m * ldc) : NULL;
#pragma omp parallel num_threads(nt)
	{
		float *myap = buffer(1, (size_t)g->mc * g->kc);
		const int t = omp_get_thread_num(), nth = omp_get_num_threads();
		for (int jc = 0; jc < n; jc += NCg) {
			const int nc = n - jc < NCg ? n - jc : NCg;
			const int panels = (nc + NRg - 1) / NRg;
			const split s = choose_split(g, m, panels, nth);
			for (int pc = 0; pc < k; pc += kcmax) {
				const int kc = k - pc < kcmax ? k - pc : kcmax, kc2 = (kc + 1) / 2;
				const int first = pc == 0 && !add, last = pc + kc >= k;
				/* prepacked: block pc's panels, all of them in a row */
				const float *pbk = prepacked ? prepacked + ((size_t)(pc / kcmax) * all_panels +
									    jc / NRg) * panel : NULL;
				if (!prepacked) {
#pragma omp for schedule(static)
					for (int jp = 0; jp < panels; jp++) {
						float *dst = bp + (size_t)jp * panel;
						if (bf16)
							pack_b_bf16((uint32_t *)dst, b, b16, ldb, tb, n, jc + jp * NRg,
								    pc, kc);
						else
							g->pack_b(dst, b, ldb, tb, n, jc + jp * NRg, pc, kc);
					}
				}
				size_t it0, it1;
				cxr_par_range((size_t)s.items, t, nth, &it0, &it1);
				for (size_t it = it0; it < it1; it++) {
					size_t r0, r1, g0, g1;
					item_extent(&s, it, &r0, &r1, &g0, &g1);
					const int i0 = (int)r0 * MRg, i1 = (int)r1 * MRg;
					const int mc = (i1 < m ? i1 : m) - i0;
					const int jp0 = (int)g0, jp1 = (int)g1;
					const int whole = mc / MRg * MRg; /* rows in whole panels */
					if (a_direct) {
						if (whole < mc)
							pack_a(g, myap + (size_t)whole * kc, a, lda, 0,
							       i0 + whole, mc - whole, pc, kc);
					} else if (!bf16) {
						pack_a(g, myap, a, lda, ta, i0, mc, pc, kc);
					} else if (!a16_in_place) {
						pack_a_bf16((uint32_t *)myap, a, a16, lda, ta, i0, mc, pc, kc);
					}
					for (int jp = jp0; jp < jp1; jp++) {
						const int j0 = jc + jp * NRg;
						const int nr = n - j0 < NRg ? n - j0 : NRg;
						const float *bpp = (prepacked ? pbk : bp) + (size_t)jp * panel;
						/* an fp32 C's column sums, thread t's */
						double *sums = !bf16 && last && io && io->stats
								       ? io->stats + (size_t)t * 2 * n + j0
								       : NULL;
						const epilogue e = {ep && ep->bias ? ep->bias + j0 : NULL,
								    ep && ep->relu,
								    g->sums_in_store ? sums : NULL, (size_t)n};
						const epilogue *epj = last && (ep || e.sums) ? &e : NULL;
						for (int r = 0; r < mc; r += MRg) {
							const int mr = mc - r < MRg ? mc - r : MRg;
							const size_t at = (size_t)(i0 + r) * ldc + j0;
							if (!bf16) { /* A in place, or its packed panel */
								const int here = a_direct && r < whole;
								g->kernel(kc,
									  here ? a + (size_t)(i0 + r) * lda + pc
									       : myap + (size_t)r * kc,
									  here ? (a_layout){(size_t)lda, 1}
									       : a_layout_of(g, ta, kc),
									  bpp, c + at, ldc, mr, nr, !first, epj);
								if (sums && !g->sums_in_store)
									tile_sums(sums, (size_t)n, c + at, ldc, mr, nr);
								continue;
							}
							a_layout L = a_layout_of(g, ta, kc2);
							const uint32_t *ap = (const uint32_t *)myap + (size_t)r * kc2;
							if (a16_in_place)
								ap = a16_panel((uint32_t *)myap, a16, lda, i0 + r, mr,
									       pc, kc, &L);
							tile_out o = {.ld = (size_t)ldc};
							if (!c16) {
								o.f = c + at;
								o.addf = first ? NULL : o.f;
							} else if (!last) {
								o.f = part + at;
								o.addf = pc > 0 ? o.f : NULL;
								o.addh = pc == 0 && add ? c16 + at : NULL;
							} else {
								o.h = c16 + at;
								o.addf = nkb > 1 ? part + at : NULL;
								o.addh = nkb == 1 && add ? o.h : NULL;
								if (io->stats) {
									o.s0 = io->stats + (size_t)t * 2 * n + j0;
									o.s1 = o.s0 + n;
								}
							}
							if (epj) {
								o.bias = epj->bias;
								o.relu = epj->relu;
							}
							kernel_bf16(kc2, ap, L, (const uint32_t *)bpp, &o, mr, nr);
						}
					}
				}
				/* the shared B buffer is packed anew next; prepacked,
				 * each thread goes on with C elements only it writes */
				if (!prepacked) {
#pragma omp barrier
				}
			}
		}
	}
}

/* C [+]= a product over k = 0 terms: C = 0, or C unchanged. */
static void empty_product(int m, int n, int add, float *c, int ldc)
{
	if (!add)
		for (int i = 0; i < m; i++)
			memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof *c);
}

static void gemm_own(const geom *g, int bf16, int ta, int tb, int m, int n, int k,
		     const float *a, int lda, const float *b, int ldb, int add, float *c, int ldc,
		     const bf16_io *io)
{
	int nt = omp_get_max_threads();
	if (k <= 0) {
		empty_product(m, n, add, c, ldc);
		return;
	}
	/* few rows and columns, long k: split k, each thread into its own C */
	const size_t mn = (size_t)m * n;
	if (nt > 1 && k >= 4 * g->kc * nt && m <= 2 * g->mc && mn <= ((size_t)1 << 18)) {
		/* kept by the calling thread, as the packing buffers: parts of
		 * up to a megabyte each would be freshly mapped (and page
		 * faulted) on every call otherwise */
		float *part = buffer(2, (size_t)nt * mn);
#pragma omp parallel num_threads(nt)
		{
			int t = omp_get_thread_num();
			int k0 = (int)((long)k * t / nt), k1 = (int)((long)k * (t + 1) / nt);
			const size_t aoff = ta ? (size_t)k0 * lda : (size_t)k0;
			const float *as = a ? a + aoff : NULL;
			const float *bs = b ? (tb ? b + k0 : b + (size_t)k0 * ldb) : NULL;
			const bf16_io ios = {.a = io && io->a ? io->a + aoff : NULL,
					     .b = io && io->b ? io->b + (size_t)k0 * ldb : NULL};
			gemm_blocked(g, bf16, ta, tb, m, n, k1 - k0, as, lda, bs, ldb, NULL, 0, NULL,
				     part + t * mn, n, 1, io ? &ios : NULL);
		}
		uint16_t *c16 = io ? io->c : NULL;
#pragma omp parallel for schedule(static)
		for (int i = 0; i < m; i++) {
			for (int j = 0; j < n; j++) {
				float s = part[(size_t)i * n + j];
				for (int t = 1; t < nt; t++)
					s += part[t * mn + (size_t)i * n + j];
				const size_t at = (size_t)i * ldc + j;
				if (c16)
					c16[at] = cxr_bf16_round(add ? cxr_bf16_float(c16[at]) + s : s);
				else
					c[at] = add ? c[at] + s : s;
			}
		}
		return;
	}
	gemm_blocked(g, bf16, ta, tb, m, n, k, a, lda, b, ldb, NULL, add, NULL, c, ldc, nt, io);
}

/* C (m,n) = op(A) op(B) + beta C by OpenBLAS on the calling thread. */
static void blas(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
		 int ldb, float beta, float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
		    m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* OpenBLAS where cxr's kernel does not run, on one thread per OpenMP
 * thread (OpenBLAS is given one thread: base/parallel.h): each thread
 * multiplies one block of C's rows, or of its columns where C is wider
 * than tall. One pool of threads then runs the whole network: OpenBLAS's
 * own workers, woken for every product and spinning after it, fought
 * the OpenMP threads of the passes between the products for the cores.
 * Each element of C is one OpenBLAS call's, so the bits depend on the
 * thread count only, not on the schedule. */
static void gemm_blas(int ta, int tb, int m, int n, int k, const float *a, int lda,
		      const float *b, int ldb, float beta, float *c, int ldc)
{
	static int one_thread;
	if (!one_thread) /* for a program that never set the threads */
		openblas_set_num_threads(1), one_thread = 1;
	const int rows = m >= n, len = rows ? m : n;
	int parts = cxr_par_threads();
	if (parts > len / 16)
		parts = len / 16;
	/* a product under a few hundred microseconds is not worth a wake-up */
	if (parts < 2 || (double)m * n * k < 2e6 * parts) {
		blas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
		return;
	}
#pragma omp parallel num_threads(parts)
	{
		size_t i0, i1;
		cxr_par_range((size_t)len, omp_get_thread_num(), parts, &i0, &i1);
		const int w = (int)(i1 - i0);
		if (rows)
			blas(ta, tb, w, n, k, ta ? a + i0 : a + i0 * (size_t)lda, lda, b, ldb, beta,
			     c + i0 * (size_t)ldc, ldc);
		else
			blas(ta, tb, m, w, k, a, lda, tb ? b + i0 * (size_t)ldb : b + i0, ldb, beta,
			     c + i0, ldc);
	}
}

void cxr_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
	      int ldb, float beta, float *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	const geom *g = own();
	if (g) {
		gemm_own(g, 0, ta, tb, m, n, k, a, lda, b, ldb, beta != 0, c, ldc, NULL);
		return;
	}
	gemm_blas(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void cxr_gemm_bf16(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
		   int ldb, float beta, float *c, int ldc)
{
	cxr_gemm_bf16_act(ta, tb, m, n, k, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
}

void cxr_gemm_bf16_act(int ta, int tb, int m, int n, int k, const void *a, int a16, int lda,
		       const void *b, int b16, int ldb, float beta, void *c, int c16, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	if (!cxr_cpu_has_bf16())
		cxr_die(CXR_EXIT_USAGE, "bf16 products need a CPU with AVX512_BF16 (use --precision fp32)");
	if (b16 && tb)
		cxr_die(CXR_EXIT_DATA, "internal error: a bf16 product with a transposed bf16 B");
	if (c16 && k <= 0)
		cxr_die(CXR_EXIT_DATA, "internal error: a bf16 product's bf16 result over k = 0");
	const bf16_io io = {.a = a16 ? a : NULL, .b = b16 ? b : NULL, .c = c16 ? c : NULL};
	gemm_own(&g512, 1, ta, tb, m, n, k, a16 ? NULL : a, lda, b16 ? NULL : b, ldb, beta != 0,
		    c16 ? NULL : c, ldc, &io);
}

void cxr_gemm_prec(int prec, int ta, int tb, int m, int n, int k, const float *a, int lda,
		   const float *b, int ldb, float beta, float *c, int ldc)
{
	(prec == CXR_PREC_BF16 ? cxr_gemm_bf16 : cxr_gemm)(ta, tb, m, n, k, a, lda, b, ldb, beta, c,
							     ldc);
}

/* ---- B packed once (a layer's weights, for inference) ---- */

int cxr_gemm_can_prepack(int prec)
{
	return prec == CXR_PREC_BF16 ? cxr_cpu_has_bf16() : own() != NULL;
}

/* The geometry a B packed for prec is laid out in (the kernel in force
 * when it was packed: cxr_gemm_use must not change it in between). */
static const geom *packing_geom(int prec)
{
	const geom *g = prec == CXR_PREC_BF16 ? &g512 : own();
	if (!g)
		cxr_die(CXR_EXIT_DATA, "internal error: a packed B where OpenBLAS multiplies");
	return g;
}

size_t cxr_gemm_packed_size(int prec, int n, int k)
{
	const geom *g = packing_geom(prec);
	const int kcmax = prec == CXR_PREC_BF16 ? KCB : g->kc;
	return (size_t)((k + kcmax - 1) / kcmax) * ((n + g->nr - 1) / g->nr) * g->kc * g->nr;
}

void cxr_gemm_pack_b(int prec, int tb, int n, int k, const float *b, int ldb, float *dst)
{
	const geom *g = packing_geom(prec);
	const int bf16 = prec == CXR_PREC_BF16, kcmax = bf16 ? KCB : g->kc;
	const int panels = (n + g->nr - 1) / g->nr;
	for (int pc = 0; pc < k; pc += kcmax) {
		const int kc = k - pc < kcmax ? k - pc : kcmax;
#pragma omp parallel for schedule(static)
		for (int jp = 0; jp < panels; jp++) {
			float *d = dst + ((size_t)(pc / kcmax) * panels + jp) * g->kc * g->nr;
			if (bf16)
				pack_b_bf16((uint32_t *)d, b, NULL, ldb, tb, n, jp * NR, pc, kc);
			else
				g->pack_b(d, b, ldb, tb, n, jp * g->nr, pc, kc);
		}
	}
}

void cxr_gemm_prepacked(int prec, int ta, int m, int n, int k, const float *a, int lda,
			const float *packed, float beta, const float *bias, int relu, float *c,
			int ldc, double *stats)
{
	if (m <= 0 || n <= 0)
		return;
	const epilogue ep = {bias, relu, NULL, 0};
	const int bf16 = prec == CXR_PREC_BF16;
	if (stats && (bf16 || k <= 0))
		cxr_die(CXR_EXIT_DATA, "internal error: the column sums of a%s product over k = %d",
			bf16 ? " bf16 (fp32 C)" : "n fp32", k);
	if (k <= 0) {
		empty_product(m, n, beta != 0, c, ldc);
		for (int i = 0; i < m && (bias || relu); i++)
			for (int j = 0; j < n; j++) {
				float v = c[(size_t)i * ldc + j] + (bias ? bias[j] : 0.0f);
				c[(size_t)i * ldc + j] = relu && !(v > 0) ? 0.0f : v;
			}
		return;
	}
	const bf16_io io = {.stats = stats};
	gemm_blocked(packing_geom(prec), bf16, ta, 0, m, n, k, a, lda, NULL, 0, packed, beta != 0,
		     bias || relu ? &ep : NULL, c, ldc, omp_get_max_threads(), stats ? &io : NULL);
}

void cxr_gemm_prepacked_act(int m, int n, int k, const void *a, int a_bf16, int lda,
			    const float *packed, int accum, const float *bias, int relu, void *c,
			    int c_bf16, int ldc)
{
	cxr_gemm_prepacked_stats(m, n, k, a, a_bf16, lda, packed, accum, bias, relu, c, c_bf16, ldc,
				 NULL);
}

void cxr_gemm_prepacked_stats(int m, int n, int k, const void *a, int a_bf16, int lda,
			      const float *packed, int accum, const float *bias, int relu, void *c,
			      int c_bf16, int ldc, double *stats)
{
	if (m <= 0 || n <= 0)
		return;
	if (k <= 0 || (stats && !c_bf16))
		cxr_die(CXR_EXIT_DATA, "internal error: a bf16 product over k = %d%s", k,
			k > 0 ? " with the sums of an fp32 C" : "");
	const epilogue ep = {bias, relu, NULL, 0};
	const bf16_io io = {.a = a_bf16 ? a : NULL, .c = c_bf16 ? c : NULL, .stats = stats};
	gemm_blocked(&g512, 1, 0, 0, m, n, k, a_bf16 ? NULL : a, lda, NULL, 0, packed, accum,
		     bias || relu ? &ep : NULL, c_bf16 ? NULL : c, ldc, omp_get_max_threads(), &io);
}
