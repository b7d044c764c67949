/* dense — nn.Linear forward and backward through sgemm (see dense.h). */
#include "nn/dense.h"

#include <cblas.h>

void dense_forward(float *out, const float *in, const float *weight, const float *bias,
		   int n, int i, int o)
{
	for (int b = 0; b < n; b++)
		for (int j = 0; j < o; j++)
			out[(size_t)b * o + j] = bias ? bias[j] : 0.0f;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, o, i, 1.0f, in, i, weight, i,
		    1.0f, out, o);
}

void dense_backward(float *din, float *dweight, float *dbias, const float *dout,
		    const float *in, const float *weight, int n, int i, int o)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, i, n, 1.0f, dout, o, in, i, 1.0f,
		    dweight, i);
	if (dbias)
		for (int j = 0; j < o; j++) {
			double s = 0;
			for (int b = 0; b < n; b++)
				s += dout[(size_t)b * o + j];
			dbias[j] += (float)s;
		}
	if (din)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, i, o, 1.0f, dout, o,
			    weight, i, 1.0f, din, i);
}
