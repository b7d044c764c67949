/* gemm — single-precision matrix product for the network's convolutions:
 * row-major, cblas_sgemm's meaning with alpha 1 and beta 0 or 1.
 *
 * On CPUs with AVX-512 it runs this module's own kernel (packing as BLIS,
 * a 14x32 register block, OpenMP threads), on CPUs with AVX2 and FMA but
 * not AVX-512 its 6x16 twin (gemm_avx2.c); elsewhere, or with the
 * environment variable CXR_GEMM=blas, it calls OpenBLAS. Why our own:
 * OpenBLAS picks its kernels when it loads, by CPU model or by
 * OPENBLAS_CORETYPE, and 0.3.21 runs AVX2 kernels on AVX-512 CPUs it does
 * not know (AMD Zen 4/5), or wherever the variable pins them, at about
 * half the speed the hardware allows; on AVX2 CPUs its kernel is as fast
 * as ours, but it packs B anew on every call and cannot add a bias or
 * apply ReLU as it stores C (an inference convolution's weights are
 * packed once here, and its epilogue costs no pass of its own).
 *
 * Results depend on the instruction set and the thread count through the
 * order of sums only (deterministic for a fixed CPU and -j). */
#ifndef CXR_GEMM_H
#define CXR_GEMM_H
#include <stddef.h>
#include <stdint.h>

/* C (m,n) = [C +] op(A) op(B), op(A) (m,k), op(B) (k,n), row-major:
 * op(A)[i][p] = ta ? a[p*lda + i] : a[i*lda + p], op(B) likewise with tb.
 * beta is 0 (C is written, not read) or 1 (added to). */
void cxr_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
	      int ldb, float beta, float *c, int ldc);

/* cxr_gemm with the operands' values rounded to bf16 (precision.h) and
 * the products summed in fp32 by vdpbf16ps: twice the multiply rate.
 * Needs cxr_cpu_has_bf16() (the process exits with a usage error
 * otherwise: callers check cxr_precision_available first). */
void cxr_gemm_bf16(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
		   int ldb, float beta, float *c, int ldc);
/* cxr_gemm_bf16 with operands held in bf16 (uint16_t, the upper half of
 * an fp32: activations and gradients kept in bf16) where a16, b16 and c16
 * say, else fp32: A either way round, B as it lies (tb 0); the results
 * those of cxr_gemm_bf16 on the fp32 operands whose values they hold, a
 * bf16 C getting the fp32 result ([C +] product) rounded once (to
 * nearest even, as precision.h; k > 0). */
void cxr_gemm_bf16_act(int ta, int tb, int m, int n, int k, const void *a, int a16, int lda,
		       const void *b, int b16, int ldb, float beta, void *c, int c16, int ldc);
/* cxr_gemm (CXR_PREC_FP32) or cxr_gemm_bf16 (CXR_PREC_BF16). */
void cxr_gemm_prec(int prec, int ta, int tb, int m, int n, int k, const float *a, int lda,
		   const float *b, int ldb, float beta, float *c, int ldc);

/* B packed once and used by many products (a layer's weights at
 * inference): cxr_gemm_pack_b writes op(B) (k,n), from b as cxr_gemm
 * reads it, into packed (cxr_gemm_packed_size floats, 64-byte aligned),
 * in the precision prec's panel layout; cxr_gemm_prepacked then computes
 * C (m,n) [+]= op(A) B with the same results as cxr_gemm_prec, then, as
 * the product's results are stored, adds bias (n floats, NULL: none) to
 * every row and, with relu, sets what is not positive to 0 (a
 * convolution's epilogue, without another pass over C). With stats (not
 * NULL; fp32 only, k > 0) it also adds each column's sum and sum of
 * squares of the values it stores, as cxr_gemm_prepacked_stats below
 * does for a bf16 C (the same layout and order). Only where the own
 * kernel runs: cxr_gemm_can_prepack(prec). */
int cxr_gemm_can_prepack(int prec);
size_t cxr_gemm_packed_size(int prec, int n, int k);
void cxr_gemm_pack_b(int prec, int tb, int n, int k, const float *b, int ldb, float *packed);
void cxr_gemm_prepacked(int prec, int ta, int m, int n, int k, const float *a, int lda,
			const float *packed, float beta, const float *bias, int relu, float *c,
			int ldc, double *stats);

/* cxr_gemm_prepacked in bf16 (B packed with CXR_PREC_BF16, ta 0) for
 * activations kept in bf16 between layers: a (m,k) and c (m,n) are
 * row-major arrays of fp32 or, where a_bf16 / c_bf16 say so, bf16 values
 * (uint16_t, the upper half of an fp32); k > 0. A bf16 A is read where
 * it lies (its packing was its rounding: the results are those of the
 * fp32 A whose values it holds), copied only where k or lda is odd; a
 * bf16 C gets the fp32 result of [c +] product + bias [ReLU] rounded once
 * (to nearest even, as precision.h). */
void cxr_gemm_prepacked_act(int m, int n, int k, const void *a, int a_bf16, int lda,
			    const float *packed, int accum, const float *bias, int relu, void *c,
			    int c_bf16, int ldc);
/* cxr_gemm_prepacked_act with a bf16 C that also adds, for batch norm's
 * statistics, each column's sum and sum of squares of the values it
 * stores (as stored, rounded): in float over a register block's rows,
 * then into stats (omp_get_max_threads() blocks of 2n doubles: thread t
 * adds column j's sums at [t*2n + j] and [t*2n + n + j], each thread's
 * blocks of rows in a fixed order, so the sums' bits depend on the
 * thread count only). A pass over C spared. */
void cxr_gemm_prepacked_stats(int m, int n, int k, const void *a, int a_bf16, int lda,
			      const float *packed, int accum, const float *bias, int relu, void *c,
			      int c_bf16, int ldc, double *stats);

/* "avx512" or "avx2" (own kernels) or "blas"; cxr_gemm_use("blas")
 * forces OpenBLAS, "avx2" the AVX2 kernel (on an AVX-512 CPU too),
 * cxr_gemm_use(NULL) restores the default. -1 if the choice is not
 * available here. A B packed by cxr_gemm_pack_b is laid out for the
 * kernel in force: change it only between uses of packed weights. */
const char *cxr_gemm_impl(void);
int cxr_gemm_use(const char *impl);

#endif
