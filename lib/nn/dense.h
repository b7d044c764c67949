/* dense — fully connected layer, PyTorch's nn.Linear: out = in W^T + b. */
#ifndef CXR_DENSE_H
#define CXR_DENSE_H

/* out (N,O) = in (N,I) weight^T + bias; weight (O,I), bias (O) */
void dense_forward(float *out, const float *in, const float *weight, const float *bias,
		   int n, int i, int o);
/* din (N,I) += dout W, dweight (O,I) += dout^T in, dbias (O) += column
 * sums of dout. din may be NULL. */
void dense_backward(float *din, float *dweight, float *dbias, const float *dout,
		    const float *in, const float *weight, int n, int i, int o);

#endif
