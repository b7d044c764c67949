/* activation — ReLU, dropout, binary cross-entropy (see activation.h). */
#include "nn/activation.h"

#include <math.h>
#include <omp.h>

#include "base/parallel.h"

void relu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] > 0 ? in[i] : 0.0f;
}

CXR_CLONES static void relu_bwd_range(float *din, const float *dout, const float *out, int acc,
				      size_t i0, size_t i1)
{
	if (acc) {
#pragma omp simd
		for (size_t i = i0; i < i1; i++)
			din[i] += out[i] > 0 ? dout[i] : 0.0f;
	} else {
#pragma omp simd
		for (size_t i = i0; i < i1; i++)
			din[i] = out[i] > 0 ? dout[i] : 0.0f;
	}
}

void relu_backward(float *din, const float *dout, const float *out, size_t n, int acc)
{
#pragma omp parallel
	{
		size_t i0, i1;
		cxr_par_range(n, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		relu_bwd_range(din, dout, out, acc, i0, i1);
	}
}

void dropout_mask(float *mask, size_t n, float p, cxr_rng *rng)
{
	float keep = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
	for (size_t i = 0; i < n; i++)
		mask[i] = cxr_rng_uniform(rng) < p ? 0.0f : keep;
}

void dropout_forward(float *out, const float *in, const float *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] * mask[i];
}

void dropout_backward(float *din, const float *dout, const float *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += dout[i] * mask[i];
}

double bce_logits(float *dlogits, const float *logits, const float *targets, int n)
{
	double loss = 0;
	for (int i = 0; i < n; i++) {
		double z = logits[i], t = targets[i];
		loss += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
		if (dlogits) {
			double s = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
			dlogits[i] = (float)((s - t) / n);
		}
	}
	return n > 0 ? loss / n : 0;
}
