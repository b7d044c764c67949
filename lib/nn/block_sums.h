/* block_sums — batch norm's column sums from one block's shifted sums,
 * as the own products (gemm.c, gemm_avx2.c) and Winograd's output
 * transform (wino.c) add them while they store a convolution's output.
 *
 * A block of n rows sums, in float, each column's differences d = x - k
 * from its first row's value k, which are of the order of the column's
 * spread, not its mean; the column's sums of x and of x^2 then follow in
 * double: s += n k + sum d, q += sum d^2 + k (2 sum d + n k). Batch
 * norm's variance is the difference of the two sums, which a mean that
 * dwarfs the spread would otherwise swamp. gemm_avx2.c's add_shifted is
 * the same, four columns at a time. */
#ifndef CXR_BLOCK_SUMS_H
#define CXR_BLOCK_SUMS_H

/* *s, *q += a column's sums of x and x^2 over n rows, given k and the
 * sums d and dd of x - k and (x - k)^2. */
static inline void block_sums_add(double *s, double *q, double n, double k, double d, double dd)
{
	*s += n * k + d;
	*q += dd + k * (2.0 * d + n * k);
}

#endif
