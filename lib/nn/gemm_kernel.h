/* gemm_kernel — what nn/gemm.c's blocked driver shares with the register
 * blocks kept in files of their own (internal to nn/gemm; not an API).
 *
 * The driver packs A in MR-row panels and B in NR-column panels, KC
 * values of k deep (see gemm.c); a micro-kernel multiplies one A panel by
 * one B panel into an MR x NR block of C held in registers, and stores it
 * with the epilogue. */
#ifndef CXR_GEMM_KERNEL_H
#define CXR_GEMM_KERNEL_H
#include <stddef.h>

/* An A panel's strides (in four-byte words) between rows and along k:
 * {run length, 1} for rows copied as they lie along k ({lda, 1} where
 * the AVX2 kernel reads them in A itself), {1, MR} for a transposed A
 * copied column by column. */
typedef struct a_layout {
	size_t row, k;
} a_layout;

/* What the last k block's store adds: a bias per column (NULL: none),
 * then ReLU; in the order conv_bias_relu applies them after a product.
 * sums (NULL: none; kernels whose geometry says sums_in_store): where
 * the store adds each column's sum of the values it stores (sums[j]) and
 * of their squares (sums[sq + j]), over the block's rows as block_sums.h
 * says (in float from the first row's value, then in double). */
typedef struct epilogue {
	const float *bias;
	int relu;
	double *sums;
	size_t sq;
} epilogue;

/* The AVX2 register block (CPUs with AVX2 and FMA but not AVX-512):
 * 6 rows of two 8-lane accumulators, 12 of the 16 ymm registers. */
#define GEMM_AVX2_MR 6
#define GEMM_AVX2_NR 16

/* C (mr <= 6 rows, nr <= 16 columns, row stride ldc) [+]= A panel (6 x
 * kc, strides L) B panel (kc x 16, 32-byte aligned), then ep (bias from
 * column 0 of this block; NULL: none). */
void gemm_avx2_kernel(int kc, const float *restrict A, a_layout L, const float *restrict B,
		      float *C, int ldc, int mr, int nr, int add, const epilogue *ep);

/* dst: one 6-row panel of a transposed A, whose columns hold the 6 rows'
 * values of each k contiguously (src + p*lda), k-major ({1, 6}: the 6
 * values of k = p at 6p; those past mr zero): a copy. */
void gemm_avx2_pack_a_columns(float *restrict dst, const float *src, int lda, int mr, int kc);

/* dst: the 16-column panel [j0, j0+16) (those >= n zero) x rows [p0,
 * p0+kc) of op(B) (k,n), row by row; tb: B is (n,k), its columns
 * contiguous, transposed 8x8 in registers. */
void gemm_avx2_pack_b(float *restrict dst, const float *b, int ldb, int tb, int n, int j0, int p0,
		      int kc);

#endif
