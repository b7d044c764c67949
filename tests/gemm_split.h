/* The own matrix product's division of work among threads: rows in
 * blocks of whole panels (14 rows on AVX-512, 6 on AVX2), as even as they
 * go, and, when rows alone would leave a thread short, columns in groups
 * of panels (32 or 16 columns) (gemm.c's choose_split). Whatever the division, every element of C must
 * be written once, summed whole in k order: the same bits at any thread
 * count, the same prepacked or not, and a C filled with NaN beforehand
 * (beta 0) must hold none after; the bias and ReLU a prepacked product
 * adds as it stores must give what adding them after it gives. Shapes straddle the panel and block
 * edges of both kernels and the thread counts include ones
 * that divide nothing. Shared by check_layers (fp32) and check_bf16. */
#ifndef CXR_GEMM_SPLIT_H
#define CXR_GEMM_SPLIT_H
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/gemm.h"
#include "testutil.h"

static void gemm_split_check(int prec)
{
	/* the edges of the AVX-512 blocks (14 rows, 32 columns, 224-row
	 * blocks) and of the AVX2 ones (6, 16, 144) */
	static const int ms[] = {1, 6, 7, 13, 14, 15, 29, 64, 144, 145, 223, 224, 225, 256, 449, 1000};
	static const int ns[] = {1, 16, 17, 31, 32, 33, 64, 96, 200, 513};
	static const int nts[] = {1, 2, 3, 4, 7};
	const int saved = omp_get_max_threads();
	for (size_t a_ = 0; a_ < sizeof ms / sizeof *ms; a_++)
		for (size_t b_ = 0; b_ < sizeof ns / sizeof *ns; b_++) {
			/* small products also run past one k block (the epilogue
			 * only at the last) */
			const int m = ms[a_], n = ns[b_], k = (long)m * n <= 4096 ? 1601 : 45;
			float *a = test_frand((size_t)m * k, -1, 1), *b = test_frand((size_t)k * n, -1, 1);
			float *c1 = malloc((size_t)m * n * sizeof *c1), *c = malloc((size_t)m * n * sizeof *c);
			float *packed = aligned_alloc(64, cxr_gemm_packed_size(prec, n, k) * sizeof(float));
			cxr_gemm_pack_b(prec, 0, n, k, b, n, packed);
			omp_set_num_threads(1);
			for (size_t i = 0; i < (size_t)m * n; i++)
				c1[i] = NAN;
			cxr_gemm_prec(prec, 0, 0, m, n, k, a, k, b, n, 0, c1, n);
			for (size_t i = 0; i < (size_t)m * n; i++)
				ck_assert_msg(isfinite(c1[i]), "gemm %dx%dx%d, 1 thread: element %zu unset",
					      m, n, k, i);
			/* the epilogue: (C0 + AB) + bias, then ReLU, as conv_bias_relu
			 * after the product: the same bits */
			float *c0 = test_frand((size_t)m * n, -1, 1), *bias = test_frand(n, -1, 1);
			float *e1 = malloc((size_t)m * n * sizeof *e1);
			memcpy(e1, c0, (size_t)m * n * sizeof *e1);
			cxr_gemm_prec(prec, 0, 0, m, n, k, a, k, b, n, 1, e1, n);
			for (size_t i = 0; i < (size_t)m * n; i++) {
				float v = e1[i] + bias[i % n];
				e1[i] = v > 0 ? v : 0.0f;
			}
			for (size_t t_ = 0; t_ < sizeof nts / sizeof *nts; t_++) {
				omp_set_num_threads(nts[t_]);
				memcpy(c, c0, (size_t)m * n * sizeof *c);
				cxr_gemm_prepacked(prec, 0, m, n, k, a, k, packed, 1, bias, 1, c, n, NULL);
				ck_assert_msg(!memcmp(c, e1, (size_t)m * n * sizeof *c),
					      "gemm %dx%dx%d (%s) on %d threads: the bias and ReLU epilogue "
					      "differs from adding them after the product", m, n, k,
					      prec ? "bf16" : "fp32", nts[t_]);
			}
			free(c0), free(bias), free(e1);
			for (size_t t_ = 0; t_ < sizeof nts / sizeof *nts; t_++)
				for (int pre = 0; pre < 2; pre++) {
					omp_set_num_threads(nts[t_]);
					for (size_t i = 0; i < (size_t)m * n; i++)
						c[i] = NAN;
					if (pre)
						cxr_gemm_prepacked(prec, 0, m, n, k, a, k, packed, 0, NULL, 0, c, n,
									   NULL);
					else
						cxr_gemm_prec(prec, 0, 0, m, n, k, a, k, b, n, 0, c, n);
					ck_assert_msg(!memcmp(c, c1, (size_t)m * n * sizeof *c),
						      "gemm %dx%dx%d (%s) on %d threads%s differs from 1 thread",
						      m, n, k, prec ? "bf16" : "fp32", nts[t_],
						      pre ? ", prepacked," : "");
				}
			free(a), free(b), free(c1), free(c), free(packed);
		}
	omp_set_num_threads(saved);
}

#endif
