/* resnet — the cxr network: a ResNet-50 (bottleneck blocks 3-4-6-3) on
 * 1-channel input of any size, with a width multiplier, and a binary head:
 * global max pool -> dense 512 -> ReLU -> dropout -> dense 1 (a logit).
 * Two architectures (cxr_resnet_config.arch):
 *  - torchvision's (CXR_ARCH_TORCHVISION): stride on each stage's 3x3
 *    conv, projection shortcut where the shape changes, convolutions
 *    without bias, BN eps 1e-5 momentum 0.1; state_dict names as
 *    torchvision's ("layer1.0.conv1.weight"), the head's fc1, fc2;
 *  - Keras's (CXR_ARCH_KERAS, keras/applications/resnet.py, ResNet v1):
 *    stride on each stage's first 1x1 conv and its shortcut (every 3x3 is
 *    stride 1), a projection shortcut on every stage's first block, every
 *    convolution with a bias, BN eps 1.001e-5 and Keras's momentum 0.99
 *    (PyTorch's 0.01). Tensors carry Keras's layer names with PyTorch's
 *    parameter names: conv1_conv.weight, conv1_conv.bias, conv1_bn.weight,
 *    conv2_block1_1_conv.weight ... conv5_block3_3_bn.running_var, the
 *    head's dense and dense_1. Keras's zero padding (3 before the stem, 1
 *    before the max pool) is torchvision's: the stem's padding is a
 *    convolution's, and the max pool's window sees ReLU outputs (>= 0),
 *    so a zero pad never changes a maximum; a gradient a tie would send
 *    to a pad is that of a ReLU output of 0, which the ReLU stops anyway.
 *
 * Speed: 3x3 stride-1 convolutions by Winograd F(4x4,3x3) (wino.h), the
 * rest by im2col + gemm (gemm.h; a 1x1 stride-1 convolution is one
 * product), batch norm fused with the residual add and ReLU, folded into
 * the convolutions for inference.
 *
 * Memory: the parameters, their gradients (same layout) and the BN running
 * statistics are three flat arrays; the activations of a forward pass live
 * in one arena sized for the batch given at creation, allocated at the
 * first forward (an inference-only user never pays for the training
 * activations). Activations are channels-last (see conv.h).
 *
 * The flat parameter array holds the tensors in state_dict order
 * (cxr_resnet_tensor_at); convolution weights are kept as (O,KH,KW,C),
 * dense weights as PyTorch's (out,in). An optimizer updates params from
 * grads element by element and calls cxr_resnet_params_changed().
 *
 * Typical training step:
 *	cxr_resnet_zero_grads(net);
 *	cxr_resnet_forward(net, x, n, 1);
 *	loss = cxr_resnet_loss(net, targets);
 *	cxr_resnet_backward(net);
 *	... optimizer step on params/grads ...; cxr_resnet_params_changed(net);
 * Scoring: p = sigmoid(cxr_resnet_forward(net, x, n, 0)[i]).
 *
 * Results depend on the thread count (sums split per thread) but not on
 * scheduling: the same inputs, seed and thread count give the same bits. */
#ifndef CXR_RESNET_H
#define CXR_RESNET_H
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

enum { CXR_ARCH_TORCHVISION, CXR_ARCH_KERAS };

typedef struct cxr_resnet_config {
	int arch;          /* CXR_ARCH_TORCHVISION */
	double width_mult; /* 1 = ResNet-50; c channels -> max(1, floor(c*W + 0.5)) */
	int in_channels;   /* 1 */
	int height, width; /* input size (256 x 256) */
	int head_hidden;   /* 512 */
	double dropout;    /* 0.2 */
} cxr_resnet_config;

/* The defaults above. */
void cxr_resnet_default_config(cxr_resnet_config *cfg);

typedef struct cxr_resnet cxr_resnet;

/* A network for batches of up to max_batch images, parameters zero (call
 * cxr_resnet_init or load them). NULL with cxr_errmsg() set on a bad
 * configuration or when memory is short. */
cxr_resnet *cxr_resnet_create(const cxr_resnet_config *cfg, int max_batch);
void cxr_resnet_free(cxr_resnet *net);
const cxr_resnet_config *cxr_resnet_get_config(const cxr_resnet *net);
int cxr_resnet_max_batch(const cxr_resnet *net);

/* Trainable parameters and their gradients: flat arrays of num_params. */
size_t cxr_resnet_num_params(const cxr_resnet *net);
float *cxr_resnet_params(cxr_resnet *net);
float *cxr_resnet_grads(cxr_resnet *net);
void cxr_resnet_zero_grads(cxr_resnet *net);
/* BN running means and variances (not trained): flat, num_buffers. */
size_t cxr_resnet_num_buffers(const cxr_resnet *net);
float *cxr_resnet_buffers(cxr_resnet *net);
/* Call after changing params or buffers by hand (an optimizer step):
 * the inference path caches weights with batch norm folded in. */
void cxr_resnet_params_changed(cxr_resnet *net);

/* The named tensors in state_dict order (parameters and BN buffers
 * interleaved, as torchvision's state_dict without num_batches_tracked). */
typedef struct cxr_resnet_tensor {
	const char *name;  /* "layer1.0.conv1.weight" */
	int trainable;     /* 1: in params and grads; 0: in buffers */
	size_t offset;     /* into params (trainable) or buffers */
	size_t numel;
	int ndim;
	int64_t dims[4];   /* PyTorch's shape; a conv weight (O,C,KH,KW) is
			    * stored here as (O,KH,KW,C) */
	int is_conv;
	int kind;          /* enum cxr_tensor_kind: what initialises it (init.h) */
} cxr_resnet_tensor;
/* What a tensor is. A bias follows its weight in state_dict order. */
enum cxr_tensor_kind {
	CXR_TK_CONV_W,   /* convolution weight */
	CXR_TK_CONV_B,   /* convolution bias (the Keras variant's) */
	CXR_TK_BN_W,     /* batch norm gamma */
	CXR_TK_BN_B,     /* batch norm beta */
	CXR_TK_BN_MEAN,  /* running mean (a buffer) */
	CXR_TK_BN_VAR,   /* running variance (a buffer) */
	CXR_TK_FC_W,     /* dense weight (out,in) */
	CXR_TK_FC_B      /* dense bias */
};
int cxr_resnet_ntensors(const cxr_resnet *net);
/* Copies a tensor between the engine's layout (src/dst in params, grads,
 * buffers or any array of that layout, at t->offset) and PyTorch's
 * (numel floats): export to PyTorch, import from it. */
void cxr_resnet_tensor_export(const cxr_resnet_tensor *t, float *torch, const float *flat);
void cxr_resnet_tensor_import(const cxr_resnet_tensor *t, float *flat, const float *torch);
const cxr_resnet_tensor *cxr_resnet_tensor_at(const cxr_resnet *net, int i);
/* NULL if no tensor has this name. */
const cxr_resnet_tensor *cxr_resnet_tensor_find(const cxr_resnet *net, const char *name);

/* torchvision's initialisation from seed: convolutions kaiming normal
 * (fan_out, ReLU gain), BN weight 1 bias 0, running mean 0 var 1, dense
 * layers as nn.Linear (uniform +-1/sqrt(fan_in) for weight and bias).
 * Also seeds the dropout generator. It is init.h's CXR_INIT_TORCHVISION
 * (defined in init.c, which has the other schemes). */
void cxr_resnet_init(cxr_resnet *net, uint64_t seed);

/* Forward pass of n <= max_batch images x (N,C,H,W), pixel values as the
 * network takes them. train: batch statistics (running ones updated) and
 * dropout, activations kept for cxr_resnet_backward; else running
 * statistics, no dropout. Returns the n logits, valid until the next
 * forward; NULL with cxr_errmsg() set when n is out of range or memory
 * is short. */
const float *cxr_resnet_forward(cxr_resnet *net, const float *x, int n, int train);
/* Mean binary cross-entropy of the last forward's logits against
 * targets (n) in [0,1]; sets the logits' gradient for backward. */
float cxr_resnet_loss(cxr_resnet *net, const float *targets);
/* The logits' gradient (max_batch) that backward starts from, for a
 * caller's own loss. */
float *cxr_resnet_dlogits(cxr_resnet *net);
/* Backward pass of the last forward, which must have been in train mode:
 * adds the parameters' gradients into grads. -1 with cxr_errmsg() set
 * otherwise. */
int cxr_resnet_backward(cxr_resnet *net);

/* The dropout mask (n <= max_batch rows of head_hidden), entries 0 or
 * 1/(1-p), that the next train forward (of up to n images) uses instead
 * of drawing one, to reproduce PyTorch. -1 with cxr_errmsg() set if n is
 * out of range or memory is short. */
int cxr_resnet_set_dropout_mask(cxr_resnet *net, const float *mask, int n);
/* The dropout generator, to save and restore in checkpoints. */
cxr_rng *cxr_resnet_rng(cxr_resnet *net);

/* Batch-norm running statistics under gradient accumulation and data
 * parallelism, where the caller updates them once per micro-batch in
 * micro-batch order. set_bn_update(net, 0): a training forward leaves the
 * running statistics as they are (1, the default: it updates them).
 * Either way it keeps each BN's batch mean and unbiased variance, in
 * double, as cxr_resnet_bn_batch_stats (num_buffers, laid out as the
 * buffers: the mean where running_mean is, the variance where
 * running_var is). cxr_resnet_bn_apply makes the update a training
 * forward with those batch statistics would have made, bit for bit. */
void cxr_resnet_set_bn_update(cxr_resnet *net, int on);
const double *cxr_resnet_bn_batch_stats(const cxr_resnet *net);
void cxr_resnet_bn_apply(cxr_resnet *net, const double *stats);

/* Inference folds batch norm into the convolutions (default 1); 0 runs
 * the plain conv + batch norm, the reference the tests compare with. */
void cxr_resnet_set_fold(cxr_resnet *net, int fold);
/* The 3x3 stride-1 convolutions run by Winograd F(4x4,3x3) (wino.h,
 * default 1); 0 runs every convolution by im2col + sgemm, the reference. */
void cxr_resnet_set_winograd(cxr_resnet *net, int on);

/* The arithmetic of every convolution and dense layer (precision.h):
 * CXR_PREC_FP32 (the default) or CXR_PREC_BF16, bf16 products with fp32
 * sums; parameters, gradients, batch norm and the loss stay fp32 either
 * way. -1 with cxr_errmsg() set if the CPU cannot run it. */
int cxr_resnet_set_precision(cxr_resnet *net, int prec);
int cxr_resnet_get_precision(const cxr_resnet *net);

/* Threads for everything (-j): OpenMP (element-wise passes, Winograd,
 * the own gemm) and OpenBLAS. */
void cxr_resnet_set_threads(int n);

/* Time and floating-point operations per layer kind, for the benchmark.
 * cxr_resnet_profile(net, 1) zeroes and starts the counters. */
enum {
	CXR_PROF_CONV7, CXR_PROF_CONV3, CXR_PROF_CONV1, CXR_PROF_CONV1S2,
	CXR_PROF_BN, CXR_PROF_POOL, CXR_PROF_HEAD, CXR_PROF_OTHER, CXR_PROF_N
};
typedef struct cxr_resnet_prof {
	const char *name;
	double sec[2], flop[2]; /* [0] forward, [1] backward */
} cxr_resnet_prof;
void cxr_resnet_profile(cxr_resnet *net, int on);
const cxr_resnet_prof *cxr_resnet_profile_get(const cxr_resnet *net, int kind);
/* Floating-point operations of one image's forward (train 0) or
 * forward+backward (train 1), counting a multiply-add as 2. */
double cxr_resnet_flops(const cxr_resnet *net, int train);

#endif
