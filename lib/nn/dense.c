/* dense — nn.Linear forward and backward (see dense.h). fp32 goes to
 * OpenBLAS as it always has (the head's products are small: one thread,
 * see base/parallel.h); bf16 to the network's bf16 product. */
#include "nn/dense.h"

#include <cblas.h>

#include "nn/gemm.h"
#include "nn/precision.h"

/* C (m,n) += op(A) op(B) in precision prec. */
static void product(int prec, int ta, int tb, int m, int n, int k, const float *a, int lda,
		    const float *b, int ldb, float *c, int ldc)
{
	if (prec == CXR_PREC_BF16)
		cxr_gemm_bf16(ta, tb, m, n, k, a, lda, b, ldb, 1.0f, c, ldc);
	else
		cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
			    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c,
			    ldc);
}

void dense_forward(int prec, float *out, const float *in, const float *weight, const float *bias,
		   int n, int i, int o)
{
	for (int b = 0; b < n; b++)
		for (int j = 0; j < o; j++)
			out[(size_t)b * o + j] = bias ? bias[j] : 0.0f;
	product(prec, 0, 1, n, o, i, in, i, weight, i, out, o);
}

void dense_backward(int prec, float *din, float *dweight, float *dbias, const float *dout,
		    const float *in, const float *weight, int n, int i, int o)
{
	product(prec, 1, 0, o, i, n, dout, o, in, i, dweight, i);
	if (dbias)
		for (int j = 0; j < o; j++) {
			double s = 0;
			for (int b = 0; b < n; b++)
				s += dout[(size_t)b * o + j];
			dbias[j] += (float)s;
		}
	if (din)
		product(prec, 0, 0, n, i, o, dout, o, weight, i, din, i);
}
