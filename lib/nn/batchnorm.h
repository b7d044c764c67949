/* batchnorm — batch normalisation over the rows of an NHWC activation
 * (m = N*H*W rows of c channels), fused with what follows it in the
 * network: an optional residual add and an optional ReLU, so a bottleneck
 * block's tail relu(bn3(x) + shortcut) is one pass over memory.
 *
 * As PyTorch: eps 1e-5, normalisation by the biased batch variance, the
 * running variance updated with the unbiased one,
 * running = (1 - momentum) * running + momentum * batch. Sums are in
 * double; per-thread partial sums are added in thread order, so results
 * depend on the thread count but not on scheduling. */
#ifndef CXR_BATCHNORM_H
#define CXR_BATCHNORM_H
#include <stddef.h>

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

/* Training mode: out = [relu](gamma * (in - mean) * invstd + beta [+ res])
 * with the batch's statistics, saved in mean and invstd for backward;
 * run_mean/run_var (c) updated. out may equal in or res.
 * out, in, res (m,c); res NULL for none; mean, invstd, gamma, beta (c) */
void bn_forward_train(float *out, float *mean, float *invstd, float *run_mean, float *run_var,
		      const float *in, const float *gamma, const float *beta, const float *res,
		      int relu, size_t m, int c, float momentum, float eps);
/* The same, and also: with run_mean and run_var NULL the running
 * statistics are left alone; bmean and bvar (c, either may be NULL) get
 * the batch's mean and unbiased variance in double, exactly what the
 * running update uses, so that a caller can make that update later
 * (bn_update_running) with the same bits: gradient accumulation and data
 * parallelism apply the micro-batches' updates in micro-batch order. */
void bn_forward_train_stats(float *out, float *mean, float *invstd, float *run_mean,
			    float *run_var, double *bmean, double *bvar, const float *in,
			    const float *gamma, const float *beta, const float *res, int relu,
			    size_t m, int c, float momentum, float eps);
/* run = (1 - momentum) * run + momentum * batch, as bn_forward_train does
 * it, from bn_forward_train_stats's bmean and bvar. */
void bn_update_running(float *run_mean, float *run_var, const double *bmean,
		       const double *bvar, int c, float momentum);
/* Tensors held in bf16 (uint16_t, the upper half of an fp32: training in
 * bf16 keeps a convolution's output and a block's in bf16), for the _act
 * forms: in, out, res (and in backward, in, the forward's out, and the
 * gradients dout and din: autocast keeps them in bf16 too). A pass
 * over bf16 tensors gives the bits it gives on fp32 tensors holding their
 * values, a bf16 out each fp32 result rounded once (precision.h). */
enum { BN_IN_BF16 = 1, BN_OUT_BF16 = 2, BN_RES_BF16 = 4, BN_DOUT_BF16 = 8, BN_DIN_BF16 = 16 };
void bn_forward_train_act(void *out, float *mean, float *invstd, float *run_mean,
			  float *run_var, double *bmean, double *bvar, const void *in,
			  const float *gamma, const float *beta, const void *res, int relu,
			  size_t m, int c, float momentum, float eps, int io);
/* bn_forward_train_act with the statistics' sums given in nparts partial
 * sums, added in order: part[t*2c + j] a part of the sum of channel j of
 * in over its m rows, part[t*2c + c + j] of the sum of their squares (as
 * a convolution's product adds them up, a block per thread, while it
 * stores in: cxr_gemm_prepacked_stats; a pass over in spared); part NULL:
 * bn_forward_train_act, which sums them. */
void bn_forward_train_sums(void *out, float *mean, float *invstd, float *run_mean,
			   float *run_var, double *bmean, double *bvar, const double *part,
			   int nparts, const void *in, const float *gamma, const float *beta,
			   const void *res, int relu, size_t m, int c, float momentum, float eps,
			   int io);
/* The training forward's output (without a residual) again, from its
 * input and the mean and invstd it saved: the same bits, for a caller
 * that recomputes an activation in backward rather than keep it. */
void bn_forward_replay(float *out, const float *in, const float *mean, const float *invstd,
		       const float *gamma, const float *beta, int relu, size_t m, int c);
/* ... with in and out fp32 or bf16 as io says (BN_IN_BF16, BN_OUT_BF16). */
void bn_forward_replay_act(void *out, const void *in, const float *mean, const float *invstd,
			   const float *gamma, const float *beta, int relu, size_t m, int c, int io);
/* Inference mode: the same with the running statistics. */
void bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
		     const float *run_mean, const float *run_var, const float *res, int relu,
		     size_t m, int c, float eps);
/* din += dL/din (acc 1; acc 0: din = dL/din, not read), dgamma +=
 * dL/dgamma, dbeta += dL/dbeta for the training forward. With relu, the
 * forward's ReLU masks dout: where out, the forward's output, is
 * positive; or, when out is NULL (allowed only if the forward had no
 * residual), where its input to the ReLU was, recomputed from in (one
 * array less to read). The residual's own gradient is the masked dout
 * (relu_backward of activation.h).
 * din, dout, out, in (m,c); dgamma, dbeta, mean, invstd, gamma, beta (c) */
void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *out,
		 const float *in, const float *mean, const float *invstd, const float *gamma,
		 const float *beta, int relu, size_t m, int c, int acc);
/* bn_backward that also writes dres (m,c), the gradient of the forward's
 * residual: dout masked by the ReLU (relu and out given), in the same pass
 * (a bottleneck's identity shortcut: no pass of its own over dout and
 * out). dres NULL: bn_backward. */
void bn_backward_res(float *din, float *dres, float *dgamma, float *dbeta, const float *dout,
		     const float *out, const float *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc);
/* bn_backward_res with in, out, dout and din in bf16 as io says
 * (BN_IN_BF16, BN_OUT_BF16, BN_DOUT_BF16, BN_DIN_BF16); dres is held as
 * dout is (its values are dout's, masked). din may be dout itself (acc 0:
 * the gradient of a convolution's output written over that of its batch
 * norm's), bf16 where dout is. A bf16 din (acc 0) gets each fp32 result
 * rounded once; over an fp32 dout, its row i of c values lies in the
 * first half of fp32 row i (row stride 2c: written over dout, it is read
 * where it is written, and the products that take it read half the
 * bytes); with a bf16 dout, as dout's rows lie (row stride c). */
void bn_backward_act(void *din, void *dres, float *dgamma, float *dbeta, const void *dout,
		     const void *out, const void *in, const float *mean, const float *invstd,
		     const float *gamma, const float *beta, int relu, size_t m, int c, int acc,
		     int io);
/* The inference-mode transform as a per-channel affine map
 * y = x * scale + shift, for folding into a convolution. */
void bn_fold(float *scale, float *shift, const float *gamma, const float *beta,
	     const float *run_mean, const float *run_var, int c, float eps);

#endif
