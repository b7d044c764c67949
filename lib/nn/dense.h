/* dense — fully connected layer, PyTorch's nn.Linear: out = in W^T + b.
 * prec (precision.h): CXR_PREC_BF16 rounds the products' operands to
 * bf16 and sums in fp32, as PyTorch's bf16 autocast runs nn.Linear. */
#ifndef CXR_DENSE_H
#define CXR_DENSE_H

/* out (N,O) = in (N,I) weight^T + bias; weight (O,I), bias (O) */
void dense_forward(int prec, float *out, const float *in, const float *weight, const float *bias,
		   int n, int i, int o);
/* din (N,I) += dout W, dweight (O,I) += dout^T in, dbias (O) += column
 * sums of dout. din may be NULL. */
void dense_backward(int prec, float *din, float *dweight, float *dbias, const float *dout,
		    const float *in, const float *weight, int n, int i, int o);

#endif
