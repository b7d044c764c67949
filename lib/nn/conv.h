/* conv — 2-D convolution on channels-last activations, with an optional
 * bias (Keras's convolutions have one; torchvision's have none).
 *
 * Layout: activations are NHWC, weights (O, KH, KW, C). Channels-last is
 * the faster layout for im2col + GEMM on a CPU: each kernel tap of an
 * output pixel is one contiguous run of C floats (a memcpy, not a strided
 * gather); a 1x1 stride-1 convolution needs no im2col at all, since the
 * activation already is the (N*H*W, C) matrix; the GEMM's (N*OH*OW, O)
 * result is directly the next layer's NHWC input; and batch norm, ReLU
 * and the residual add stream over rows with per-channel constants in
 * registers. PyTorch tensors (O, C, KH, KW) are permuted on load/save.
 *
 * conv_forward/conv_backward are the im2col + sgemm path (plain GEMM for
 * 1x1 stride 1; the products by gemm.h: an own AVX-512 or AVX2 kernel,
 * or OpenBLAS): the reference the Winograd path (wino.h) is tested against. The im2col matrix is built in chunks of output rows so
 * that one workspace of conv_workspace() floats serves any batch. */
#ifndef CXR_CONV_H
#define CXR_CONV_H
#include <stddef.h>

typedef struct conv_dims {
	int n, h, w, c;   /* input (N,H,W,C) */
	int o, kh, kw;    /* output channels, kernel size */
	int stride, pad;
	int oh, ow;       /* output size, set by conv_dims_set */
	int prec;         /* CXR_PREC_FP32 (conv_dims_set's) or CXR_PREC_BF16:
			   * the products' operands rounded to bf16, sums fp32 */
} conv_dims;

void conv_dims_set(conv_dims *d, int n, int h, int w, int c, int o, int k, int stride, int pad);
/* A 1x1 stride-1 unpadded convolution: a plain GEMM. */
int conv_is_pointwise(const conv_dims *d);
/* Floats of workspace conv_forward/conv_backward need for d. */
size_t conv_workspace(const conv_dims *d);
/* Floats of one im2col chunk (tests lower it to exercise chunking). */
void conv_set_chunk(size_t floats);

enum {
	CONV_ACCUM = 1, /* out += conv(in) instead of out = conv(in) */
	CONV_RELU = 2,  /* then out = max(out, 0) */
	/* conv_forward_packed in bf16 only: activations kept in bf16 between
	 * layers (uint16_t, the upper half of an fp32; gemm.h's
	 * cxr_gemm_prepacked_act): in holds bf16 values, out gets the fp32
	 * result rounded to bf16 once (and what it held, added with
	 * CONV_ACCUM, is bf16) */
	CONV_IN_BF16 = 4,
	CONV_OUT_BF16 = 8,
	/* conv_backward_act in bf16 only: dout held in bf16 (gradients kept
	 * in bf16 as autocast keeps them; the products round it anyway), its
	 * row of O values at the stride of fp32 rows (2*O: written over the
	 * fp32 gradient it came from, as bn_backward_act's BN_DIN_BF16) */
	CONV_DOUT_BF16 = 16,
	/* with CONV_DOUT_BF16: dout's rows O values apart (a bf16 gradient
	 * written over a bf16 one, as bn_backward_act's din over a bf16
	 * dout) */
	CONV_DOUT_DENSE = 32,
	/* conv_backward_act in bf16 only: din held in bf16 (a block's input
	 * gradient, kept so as autocast keeps it), each element the fp32
	 * result of [din +] its gradient rounded once; 1x1 convolutions only */
	CONV_DIN_BF16 = 64,
};

/* out (N,OH,OW,O) = conv(in) [+ out if CONV_ACCUM] [+ bias] [ReLU]
 * in (N,H,W,C), weight (O,KH,KW,C), bias (O) or NULL, ws conv_workspace(d) */
void conv_forward(float *out, const float *in, const float *weight, const float *bias,
		  const conv_dims *d, float *ws, int flags);
/* The weights packed once for many forwards (inference), where
 * cxr_gemm_can_prepack(d->prec): conv_packed_size(d) floats, written by
 * conv_pack_weights in d's precision; conv_forward_packed is then
 * conv_forward with the same results, without repacking the weights on
 * every call (at batch 1 that packing costs a third of a 1x1's time). */
size_t conv_packed_size(const conv_dims *d);
void conv_pack_weights(float *packed, const float *weight, const conv_dims *d);
void conv_forward_packed(void *out, const void *in, const float *packed, const float *bias,
			 const conv_dims *d, float *ws, int flags);
/* conv_forward_packed that also adds each output channel's sum and sum
 * of squares of the values it stores to stats (cxr_gemm_prepacked_stats's
 * layout, o channels): batch norm's statistics without another pass over
 * the output. An fp32 output (weights packed for fp32), or CONV_OUT_BF16
 * (for bf16). */
void conv_forward_packed_stats(void *out, const void *in, const float *packed,
			       const float *bias, const conv_dims *d, float *ws, int flags,
			       double *stats);
/* din (N,H,W,C) += dconv/din (acc 1; acc 0: din = dconv/din),
 * dweight (O,KH,KW,C) += dconv/dweight. din may be NULL (the network's
 * input needs no gradient).
 * dout (N,OH,OW,O), in (N,H,W,C), weight (O,KH,KW,C), ws conv_workspace(d) */
void conv_backward(float *din, float *dweight, const float *dout, const float *in,
		   const float *weight, const conv_dims *d, float *ws, int acc);
/* conv_backward with flags: CONV_ACCUM (acc 1), and in bf16 only,
 * CONV_IN_BF16, CONV_DOUT_BF16 (CONV_DOUT_DENSE): in, dout hold bf16
 * values (the same results as the fp32 tensors holding them: the
 * products round them to bf16 anyway); CONV_DIN_BF16: din is bf16. */
void conv_backward_act(void *din, float *dweight, const void *dout, const void *in,
		       const float *weight, const conv_dims *d, float *ws, int flags);

/* The pieces, for winograd.c and the tests. */
/* col ((r1-r0)*OW, KH*KW*C): im2col of output rows [r0, r1) of N*OH. */
void conv_im2col(float *col, const float *in, const conv_dims *d, int r0, int r1);
/* din += col2im(dcol) for output rows [r0, r1). */
void conv_col2im(float *din, const float *dcol, const conv_dims *d, int r0, int r1);
/* x (m, o) += bias, then ReLU if relu; threaded. */
void conv_bias_relu(float *x, const float *bias, int relu, size_t m, int o);
/* dbias (o) += the column sums of dout (m, o): a bias's gradient. Sums in
 * float over 16 rows, then in double; per-thread blocks of rows added in
 * thread order (the same bits for the same thread count). */
void conv_bias_backward(float *dbias, const float *dout, size_t m, int o);

#endif
