/* resnet — the cxr ResNet-50: buffers, forward, backward
 * (see resnet.h).
 *
 * Every tensor has a name, as in llm.c's train_gpt2.c: each convolution
 * with its batch norm (unit), the stem, each bottleneck block and the head
 * is a struct whose fields point at their parameters and gradients (in
 * params and grads, the same layout), BN running statistics (in buffers)
 * and training activations (in the arena), with their shapes. N is the
 * batch; shapes are channels-last. */
#include "nn/resnet.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "base/cli.h"
#include "base/hugemem.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "base/parallel.h"
#include "nn/gemm.h"
#include "nn/maxpool.h"
#include "nn/precision.h"
#include "nn/wino.h"

/* the offset of a unit's tensor that the plan does not make */
#define NO_OFFSET ((size_t)-1)
/* unit.infer_wino: by which Winograd inference runs a convolution (0: none) */
enum { WINO_S1 = 1, WINO_S2 = 2 };

#define NSTAGES 4
#define MAXBLOCKS 16
#define MAXUNITS (1 + 4 * MAXBLOCKS)

static const int stage_blocks[NSTAGES] = {3, 4, 6, 3};

/* The trainable tensors of a unit: one copy points into params, one into
 * grads. */
typedef struct unit_params {
	float *conv_w;            /* (O,KH,KW,C) */
	float *conv_b;            /* (O) the convolution's bias (Keras's), else NULL */
	float *bn_gamma;          /* (O) batch norm weight */
	float *bn_beta;           /* (O) batch norm bias */
} unit_params;

/* A convolution and the batch norm after it: every conv of the network,
 * input (N,H,W,C), output (N,OH,OW,O) (d has the sizes). */
typedef struct unit {
	conv_dims d;              /* n = max batch */
	int kind;                 /* CXR_PROF_* */
	unit_params params;       /* in net->params */
	unit_params grads;        /* in net->grads */
	float *running_mean;      /* (O) in net->buffers */
	float *running_var;       /* (O) in net->buffers */
	/* Inference with batch norm folded in. Offsets in net->fold,
	 * net->wfold and net->fpack, laid out by the plan (plan_inference)
	 * for the precision and Winograd setting in force. */
	size_t fold_w;            /* (O,KH,KW,C) conv_w * BN scale, in net->fold;
				   * NO_OFFSET where the plan runs the convolution
				   * by Winograd or packed weights, which are
				   * made from it (fold_weights' scratch) */
	size_t fold_b;            /* (O) BN shift (+ conv_b * BN scale), in net->fold */
	int wino;                 /* 3x3 stride 1 pad 1: Winograd can run it */
	int wino2;                /* 3x3 stride 2 pad 1: the stride-2 Winograd can score it */
	int infer_wino;           /* the plan: inference runs it by Winograd (WINO_S1, WINO_S2) */
	size_t wino_fold_w;       /* fold_w transformed (wino.h), in net->wfold */
	size_t fold_pack;         /* fold_w packed for the matrix product, in
				   * net->fpack; NO_OFFSET when it runs otherwise */
	/* training activations, in the arena */
	float *conv_out;          /* (N,OH,OW,O) the convolution's output, BN's input
				   * (bf16 values when the network trains in bf16:
				   * act16) */
	float *bn_mean;           /* (O) the batch's mean */
	float *bn_istd;           /* (O) the batch's 1/sqrt(var + eps) */
} unit;

/* The stem: conv1 7x7/2 -> bn1 -> ReLU -> max pool 3x3/2, the input
 * (N,H,W,C) to (N,SH,SW,C1) to (N,PH,PW,C1). */
typedef struct stem {
	unit conv1;               /* 7x7 stride 2 pad 3, C -> C1 */
	int ph, pw;               /* PH, PW: the max pool's output size */
	/* training activations, in the arena; relu(bn1(conv1(input))) is
	 * not kept: ring 0 holds it for the max pool only */
	float *pool_out;          /* (N,PH,PW,C1) the first block's input */
	int32_t *pool_idx;        /* (N,PH,PW,C1) where each window's max came from */
} stem;

/* A bottleneck block, input in (N,H,W,C), output out (N,OH,OW,OUT), OH
 * and OW those of H and W at the stride S:
 *	out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(in)))))))) + shortcut)
 * with shortcut = bn(downsample(in)) if has_downsample, else in. */
typedef struct block {
	unit conv1;               /* 1x1, C -> MID (Keras's: stride S) */
	unit conv2;               /* 3x3 stride S pad 1, MID -> MID (Keras's: stride 1) */
	unit conv3;               /* 1x1, MID -> OUT */
	unit downsample;          /* 1x1 stride S, C -> OUT: the projection shortcut */
	int has_downsample;       /* S > 1 or C != OUT (Keras's: a stage's first block) */
	int stage;                /* 0 to NSTAGES - 1 */
	/* training activations, in the arena (conv2's and conv3's inputs are
	 * not kept: see the network's mid1 and mid2) */
	float *out;               /* (N,OH,OW,OUT) the block's output; before
				   * conv3's BN adds into it, the shortcut (bf16
				   * values in bf16 training: act16) */
} block;

/* The head's trainable tensors: one copy points into params, one into
 * grads. Dense weights are PyTorch's (out,in). */
typedef struct head_params {
	float *fc1_w;             /* (HID,FEAT) */
	float *fc1_b;             /* (HID) */
	float *fc2_w;             /* (1,HID) */
	float *fc2_b;             /* (1) */
} head_params;

/* The head: global max pool -> fc1 -> ReLU -> dropout -> fc2, the last
 * block's output (N,FH,FW,FEAT) to the logits (N). */
typedef struct head {
	head_params params;       /* in net->params */
	head_params grads;        /* in net->grads */
	/* activations of both modes, in the arena */
	float *pool_out;          /* (N,FEAT) fc1's input */
	float *fc1_out;           /* (N,HID) (inference: ReLU'd in place) */
	float *logits;            /* (N) */
	/* training activations and their gradients, in the arena */
	int32_t *pool_idx;        /* (N,FEAT) where each channel's max came from */
	float *dpool_out;         /* (N,FEAT) */
	float *relu_out;          /* (N,HID) */
	float *dropout_mask;      /* (N,HID) 0 or 1/(1-p) */
	float *dropout_out;       /* (N,HID) fc2's input */
	float *ddropout_out;      /* (N,HID) */
	float *drelu_out;         /* (N,HID) */
	float *dfc1_out;          /* (N,HID) */
} head;

/* A tensor's role is its public kind (resnet.h), which init.c reads. */
enum { R_CONV = CXR_TK_CONV_W, R_CONV_B = CXR_TK_CONV_B, R_BN_W = CXR_TK_BN_W,
       R_BN_B = CXR_TK_BN_B, R_RMEAN = CXR_TK_BN_MEAN, R_RVAR = CXR_TK_BN_VAR,
       R_FC_W = CXR_TK_FC_W, R_FC_B = CXR_TK_FC_B };

/* Where a state_dict tensor's pointers are: in params and grads, or
 * (param only) in buffers. */
typedef struct tensor_fields {
	float **param, **grad;
} tensor_fields;

/* An arena tensor: where layout() put it, for point_arena() to aim its
 * field (f, or i for an index tensor) at. */
typedef struct arena_slot {
	float **f;
	int32_t **i;
	size_t off, n;
} arena_slot;
#define MAXSLOTS (8 + 3 * MAXUNITS + 3 + 3 * MAXBLOCKS + 8)

struct cxr_resnet {
	cxr_resnet_config cfg;
	int max_batch;
	float bn_eps, bn_momentum;  /* the architecture's (PyTorch's momentum) */
	int prec;                   /* CXR_PREC_*: every convolution's and dense layer's */
	stem stem;
	block blocks[MAXBLOCKS];
	int nblocks;
	unit *units[MAXUNITS];      /* every unit, in state_dict order */
	int nunits;
	int feat, fh, fw;           /* the last block's output (FH,FW,FEAT) */
	head head;

	size_t nparams, nbuffers;
	float *params, *grads, *buffers, *fold, *dlogits;
	int fold_valid, fold_on;

	cxr_resnet_tensor *t;
	int *role;
	tensor_fields *fields;
	int nt;

	/* The activation arena. The input, two buffers of the largest
	 * activation (ring 0 and 1) and the head's tensors serve both modes;
	 * after them inference has rings 2 and 3 where training keeps every
	 * activation backward needs (an inference pass overwrites them, and
	 * clears last_train, so no backward can read what it left). eval_size
	 * and train_size floats; the tensors' pointers are aimed at the arena
	 * when it is allocated, NULL beyond it. */
	float *act;
	size_t act_size, eval_size, train_size;
	arena_slot slots[MAXSLOTS];
	int nslots;
	float *input;               /* (N,H,W,C) the input, channels last */
	float *ring[4];             /* each the largest activation: inference's
				     * activations in rotation; 0 and 1 backward's
				     * gradients of the blocks' outputs */
	size_t ring_image;          /* floats of a ring a batch's image may fill
				     * (the largest activation's per image,
				     * rounded to 64 bytes): rings are max_batch
				     * times that */
	/* Training: a block's relu(bn1(conv1)) and relu(bn2(conv2)), its
	 * conv2's and conv3's inputs, each the largest of any block's. The
	 * forward writes them for the next convolution only; backward
	 * recomputes them from conv_out and the saved statistics (the same
	 * bits: bn_forward_replay), one block at a time, instead of keeping
	 * every block's (a sixth of the training arena, an affine pass each
	 * in backward). */
	float *mid1, *mid2;

	float *ws;                  /* im2col or Winograd workspace */
	size_t ws_size;
	/* Winograd (wino.h) for the 3x3 stride-1 convolutions: wtmp holds a
	 * weight set in PyTorch's layout then its transform, made per pass in
	 * training; wfold the transforms of the folded weights, made with them */
	int wino_on;
	float *wtmp, *wfold;
	float *fpack;               /* inference weights packed once (conv.h), or NULL */
	float *wpack;               /* training: a convolution's weights packed for
				     * the own product (which adds batch norm's sums
				     * and, in bf16, writes a bf16 output), made per
				     * pass; wpack_size floats, the largest's size */
	size_t wpack_size;
	size_t wtmp_w, wtmp_size;
	int planned;                /* fold, wfold and fpack laid out for the settings */
	cxr_rng rng;
	int mask_given;
	/* Running statistics: updated by a training forward (bn_update 1,
	 * the default), or left to the caller (cxr_resnet_bn_apply), bstats
	 * (nbuffers, the buffers' layout) keeping the last batch's. */
	int bn_update;
	double *bstats;
	int last_n, last_train;
	int prof_on;
	cxr_resnet_prof prof[CXR_PROF_N];
};

static const char *prof_names[CXR_PROF_N] = {
	"conv7x7", "conv3x3", "conv1x1", "conv1x1/2", "bn+relu", "maxpool", "head", "other",
};

/* ---- construction ---- */

static int scaled(int c, double w)
{
	int v = (int)floor(c * w + 0.5);
	return v < 1 ? 1 : v;
}

/* A state_dict tensor at offset off in params and grads (param, grad:
 * the fields to aim there) or, a running statistic, in buffers (grad
 * NULL). */
static void add_tensor(cxr_resnet *net, const char *name, int role, size_t off, float **param,
		       float **grad, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	cxr_resnet_tensor *t = &net->t[net->nt];
	t->name = cxr_xstrdup(name);
	t->trainable = role != R_RMEAN && role != R_RVAR;
	t->offset = off;
	t->ndim = ndim;
	t->dims[0] = d0, t->dims[1] = d1, t->dims[2] = d2, t->dims[3] = d3;
	t->numel = 1;
	for (int i = 0; i < ndim; i++)
		t->numel *= (size_t)t->dims[i];
	t->is_conv = role == R_CONV;
	t->kind = role;
	net->fields[net->nt].param = param;
	net->fields[net->nt].grad = grad;
	net->role[net->nt++] = role;
}

/* The tensors' fields aimed at params, grads and buffers. */
static void point_tensors(cxr_resnet *net)
{
	for (int i = 0; i < net->nt; i++) {
		const size_t off = net->t[i].offset;
		if (net->t[i].trainable) {
			*net->fields[i].param = net->params + off;
			*net->fields[i].grad = net->grads + off;
		} else {
			*net->fields[i].param = net->buffers + off;
		}
	}
}

static void make_unit(cxr_resnet *net, unit *u, const char *conv, const char *bn, int h, int w,
		      int c, int o, int k, int s, int p)
{
	char name[96];
	size_t off;
	conv_dims_set(&u->d, net->max_batch, h, w, c, o, k, s, p);
	u->kind = k == 7 ? CXR_PROF_CONV7 : k == 3 ? CXR_PROF_CONV3
		: s == 1 ? CXR_PROF_CONV1 : CXR_PROF_CONV1S2;
	size_t nw = (size_t)o * k * k * c;
	off = net->nparams, net->nparams += nw;
	snprintf(name, sizeof name, "%s.weight", conv);
	add_tensor(net, name, R_CONV, off, &u->params.conv_w, &u->grads.conv_w, 4, o, c, k, k);
	if (net->cfg.arch == CXR_ARCH_KERAS) {
		off = net->nparams, net->nparams += o;
		snprintf(name, sizeof name, "%s.bias", conv);
		add_tensor(net, name, R_CONV_B, off, &u->params.conv_b, &u->grads.conv_b, 1, o, 0,
			   0, 0);
	}
	off = net->nparams, net->nparams += o;
	snprintf(name, sizeof name, "%s.weight", bn);
	add_tensor(net, name, R_BN_W, off, &u->params.bn_gamma, &u->grads.bn_gamma, 1, o, 0, 0,
		   0);
	off = net->nparams, net->nparams += o;
	snprintf(name, sizeof name, "%s.bias", bn);
	add_tensor(net, name, R_BN_B, off, &u->params.bn_beta, &u->grads.bn_beta, 1, o, 0, 0, 0);
	off = net->nbuffers, net->nbuffers += o;
	snprintf(name, sizeof name, "%s.running_mean", bn);
	add_tensor(net, name, R_RMEAN, off, &u->running_mean, NULL, 1, o, 0, 0, 0);
	off = net->nbuffers, net->nbuffers += o;
	snprintf(name, sizeof name, "%s.running_var", bn);
	add_tensor(net, name, R_RVAR, off, &u->running_var, NULL, 1, o, 0, 0, 0);
	u->wino = k == 3 && s == 1 && p == 1;
	u->wino2 = k == 3 && s == 2 && p == 1;
	/* the weights as wino.h takes them (fold_weights, unit_conv), U after
	 * them on a cache line's start */
	if ((u->wino || u->wino2) && nw > net->wtmp_w)
		net->wtmp_w = (nw + 15) & ~(size_t)15;
	if (u->wino) {
		size_t t = cxr_wino_weights_size(c, o), tb = cxr_wino_weights_size(o, c);
		t = t > tb ? t : tb;
		if (t > net->wtmp_size)
			net->wtmp_size = t;
	}
	net->units[net->nunits++] = u;
}

/* Floats of a unit's output at max batch. */
static size_t unit_out(const unit *u)
{
	return (size_t)u->d.n * u->d.oh * u->d.ow * u->d.o;
}

/* The next n floats of the arena for the tensor at field f (or, an index
 * tensor, i); offsets are rounded to 64 bytes. */
static void take(cxr_resnet *net, size_t *top, float **f, int32_t **i, size_t n)
{
	arena_slot *s = &net->slots[net->nslots++];
	s->f = f, s->i = i, s->off = *top, s->n = n;
	*top += (n + 15) & ~(size_t)15;
}

/* Training in bf16 keeps the convolutions' and the blocks' outputs in
 * bf16 (PyTorch's autocast keeps them so too): half the memory of the
 * largest training tensors, and half the traffic of the batch-norm passes
 * over them. Their other users read them as the values they hold: a
 * product rounds its operands to bf16 anyway, batch norm computes in fp32
 * from them. */
static int act16(const cxr_resnet *net)
{
	return net->prec == CXR_PREC_BF16;
}

/* Floats of arena for n values of a tensor act16 keeps in bf16. */
static size_t act_floats(const cxr_resnet *net, size_t n)
{
	return act16(net) ? (n + 1) / 2 : n;
}

static void layout(cxr_resnet *net)
{
	const size_t N = (size_t)net->max_batch, hid = (size_t)net->cfg.head_hidden;
	net->nslots = 0;
	stem *s = &net->stem;
	head *h = &net->head;
	const size_t pool = (size_t)s->ph * s->pw * s->conv1.d.o * N;
	size_t big = pool;
	for (int i = 0; i < net->nunits; i++)
		if (unit_out(net->units[i]) > big)
			big = unit_out(net->units[i]);
	/* every activation is N images of the same size */
	net->ring_image = (big / N + 15) & ~(size_t)15;
	big = N * net->ring_image;
	size_t top = 0;
	/* both modes */
	take(net, &top, &net->input, NULL,
	     N * net->cfg.height * net->cfg.width * net->cfg.in_channels);
	take(net, &top, &net->ring[0], NULL, big);
	take(net, &top, &net->ring[1], NULL, big);
	take(net, &top, &h->pool_out, NULL, N * net->feat);
	take(net, &top, &h->fc1_out, NULL, N * hid);
	take(net, &top, &h->logits, NULL, N);
	/* inference only, then training only, from the same offset */
	const size_t shared = top;
	take(net, &top, &net->ring[2], NULL, big);
	take(net, &top, &net->ring[3], NULL, big);
	net->eval_size = top;
	top = shared;
	for (int i = 0; i < net->nunits; i++) {
		unit *u = net->units[i];
		take(net, &top, &u->conv_out, NULL, act_floats(net, unit_out(u)));
		take(net, &top, &u->bn_mean, NULL, u->d.o);
		take(net, &top, &u->bn_istd, NULL, u->d.o);
	}
	take(net, &top, &s->pool_out, NULL, act_floats(net, pool));
	take(net, &top, NULL, &s->pool_idx, pool);
	size_t mid1 = 0, mid2 = 0;
	for (int i = 0; i < net->nblocks; i++) {
		block *b = &net->blocks[i];
		take(net, &top, &b->out, NULL, act_floats(net, unit_out(&b->conv3)));
		if (unit_out(&b->conv1) > mid1)
			mid1 = unit_out(&b->conv1);
		if (unit_out(&b->conv2) > mid2)
			mid2 = unit_out(&b->conv2);
	}
	take(net, &top, &net->mid1, NULL, mid1);
	take(net, &top, &net->mid2, NULL, mid2);
	take(net, &top, NULL, &h->pool_idx, N * net->feat);
	take(net, &top, &h->dpool_out, NULL, N * net->feat);
	take(net, &top, &h->relu_out, NULL, N * hid);
	take(net, &top, &h->dropout_mask, NULL, N * hid);
	take(net, &top, &h->dropout_out, NULL, N * hid);
	take(net, &top, &h->ddropout_out, NULL, N * hid);
	take(net, &top, &h->drelu_out, NULL, N * hid);
	take(net, &top, &h->dfc1_out, NULL, N * hid);
	net->train_size = top > net->eval_size ? top : net->eval_size;
}

/* The arena tensors' fields aimed at the arena as allocated (NULL those
 * beyond it). */
static void point_arena(cxr_resnet *net)
{
	for (int k = 0; k < net->nslots; k++) {
		const arena_slot *s = &net->slots[k];
		float *p = net->act && s->off + s->n <= net->act_size ? net->act + s->off : NULL;
		if (s->f)
			*s->f = p;
		else
			*s->i = (int32_t *)p;
	}
}

void cxr_resnet_default_config(cxr_resnet_config *cfg)
{
	cfg->arch = CXR_ARCH_TORCHVISION;
	cfg->width_mult = 1.0;
	cfg->in_channels = 1;
	cfg->height = 256;
	cfg->width = 256;
	cfg->head_hidden = 512;
	cfg->dropout = 0.2;
}

/* The names of block j's (0-based) unit k (1 to 3, 0 the projection
 * shortcut) in stage (0-based): the convolution's in cn, its batch norm's
 * in bn (64 bytes each). */
static void unit_names(int arch, int stage, int j, int k, char *cn, char *bn)
{
	if (arch == CXR_ARCH_KERAS) {
		snprintf(cn, 64, "conv%d_block%d_%d_conv", stage + 2, j + 1, k);
		snprintf(bn, 64, "conv%d_block%d_%d_bn", stage + 2, j + 1, k);
	} else if (k) {
		snprintf(cn, 64, "layer%d.%d.conv%d", stage + 1, j, k);
		snprintf(bn, 64, "layer%d.%d.bn%d", stage + 1, j, k);
	} else {
		snprintf(cn, 64, "layer%d.%d.downsample.0", stage + 1, j);
		snprintf(bn, 64, "layer%d.%d.downsample.1", stage + 1, j);
	}
}

cxr_resnet *cxr_resnet_create(const cxr_resnet_config *cfg, int max_batch)
{
	if (cfg->arch != CXR_ARCH_TORCHVISION && cfg->arch != CXR_ARCH_KERAS) {
		cxr_seterr("architecture %d unknown", cfg->arch);
		return NULL;
	}
	if (!(cfg->width_mult > 0 && cfg->width_mult <= 64)) {
		cxr_seterr("width multiplier %g out of range (0, 64]", cfg->width_mult);
		return NULL;
	}
	if (cfg->in_channels < 1 || cfg->in_channels > 64 || cfg->height < 1 ||
	    cfg->width < 1 || cfg->height > 65536 || cfg->width > 65536 ||
	    (double)cfg->height * cfg->width * cfg->in_channels > 1e9) {
		cxr_seterr("input %dx%dx%d out of range", cfg->in_channels, cfg->height, cfg->width);
		return NULL;
	}
	if (cfg->head_hidden < 1 || cfg->head_hidden > (1 << 20)) {
		cxr_seterr("head width %d out of range", cfg->head_hidden);
		return NULL;
	}
	if (!(cfg->dropout >= 0 && cfg->dropout < 1)) {
		cxr_seterr("dropout %g out of range [0, 1)", cfg->dropout);
		return NULL;
	}
	if (max_batch < 1 || max_batch > 65536) {
		cxr_seterr("batch size %d out of range", max_batch);
		return NULL;
	}
	cxr_resnet *net = cxr_xcalloc(1, sizeof *net);
	net->cfg = *cfg;
	net->max_batch = max_batch;
	net->fold_on = 1;
	net->t = cxr_xcalloc(7 * MAXUNITS + 8, sizeof *net->t);
	net->role = cxr_xcalloc(7 * MAXUNITS + 8, sizeof *net->role);
	net->fields = cxr_xcalloc(7 * MAXUNITS + 8, sizeof *net->fields);
	const double W = cfg->width_mult;
	const int keras = cfg->arch == CXR_ARCH_KERAS;
	/* Keras's BatchNormalization: epsilon 1.001e-5 in ResNet50, moving
	 * averages with momentum 0.99, PyTorch's 0.01 */
	net->bn_eps = keras ? 1.001e-5f : BN_EPS;
	net->bn_momentum = keras ? 0.01f : BN_MOMENTUM;

	int c = scaled(64, W);
	stem *st = &net->stem;
	make_unit(net, &st->conv1, keras ? "conv1_conv" : "conv1", keras ? "conv1_bn" : "bn1",
		  cfg->height, cfg->width, cfg->in_channels, c, 7, 2, 3);
	int h = st->conv1.d.oh, w = st->conv1.d.ow;
	st->ph = h = pool_out_size(h, 3, 2, 1);
	st->pw = w = pool_out_size(w, 3, 2, 1);
	for (int stage = 0; stage < NSTAGES; stage++) {
		int planes = 64 << stage;
		for (int j = 0; j < stage_blocks[stage]; j++) {
			block *b = &net->blocks[net->nblocks++];
			b->stage = stage;
			int s = j == 0 && stage > 0 ? 2 : 1;
			int mid = scaled(planes, W), out = scaled(4 * planes, W);
			/* the stride: torchvision's on the 3x3, Keras's on the
			 * first 1x1 (and on the shortcut in both) */
			int s1 = keras ? s : 1, s2 = keras ? 1 : s;
			char cn[64], bn[64];
			for (int k = 1; k <= 3; k++) {
				unit *u = k == 1 ? &b->conv1 : k == 2 ? &b->conv2 : &b->conv3;
				unit_names(cfg->arch, stage, j, k, cn, bn);
				if (k == 1)
					make_unit(net, u, cn, bn, h, w, c, mid, 1, s1, 0);
				else if (k == 2)
					make_unit(net, u, cn, bn, b->conv1.d.oh, b->conv1.d.ow, mid,
						  mid, 3, s2, 1);
				else
					make_unit(net, u, cn, bn, b->conv2.d.oh, b->conv2.d.ow, mid,
						  out, 1, 1, 0);
			}
			/* Keras projects on every stage's first block */
			b->has_downsample = keras ? j == 0 : s != 1 || c != out;
			if (b->has_downsample) {
				unit_names(cfg->arch, stage, j, 0, cn, bn);
				make_unit(net, &b->downsample, cn, bn, h, w, c, out, 1, s, 0);
			}
			h = b->conv2.d.oh, w = b->conv2.d.ow, c = out;
		}
	}
	net->feat = c, net->fh = h, net->fw = w;
	const int hid = cfg->head_hidden;
	head *hd = &net->head;
	size_t off;
	off = net->nparams, net->nparams += (size_t)hid * c;
	const char *fc1w = keras ? "dense.weight" : "fc1.weight";
	const char *fc1b = keras ? "dense.bias" : "fc1.bias";
	const char *fc2w = keras ? "dense_1.weight" : "fc2.weight";
	const char *fc2b = keras ? "dense_1.bias" : "fc2.bias";
	add_tensor(net, fc1w, R_FC_W, off, &hd->params.fc1_w, &hd->grads.fc1_w, 2, hid, c,
		   0, 0);
	off = net->nparams, net->nparams += hid;
	add_tensor(net, fc1b, R_FC_B, off, &hd->params.fc1_b, &hd->grads.fc1_b, 1, hid, 0,
		   0, 0);
	off = net->nparams, net->nparams += hid;
	add_tensor(net, fc2w, R_FC_W, off, &hd->params.fc2_w, &hd->grads.fc2_w, 2, 1,
		   hid, 0, 0);
	off = net->nparams, net->nparams += 1;
	add_tensor(net, fc2b, R_FC_B, off, &hd->params.fc2_b, &hd->grads.fc2_b, 1, 1, 0, 0,
		   0);

	layout(net);
	for (int i = 0; i < net->nunits; i++) {
		const conv_dims *d = &net->units[i]->d;
		size_t ws = conv_workspace(d);
		size_t w2 = net->units[i]->wino ? cxr_wino_workspace_size(d->n, d->h, d->w, d->c, d->o)
			    : net->units[i]->wino2 ? cxr_wino2_workspace_size(d->n, d->h, d->w, d->c, d->o)
						   : 0;
		ws = w2 > ws ? w2 : ws;
		if (ws > net->ws_size)
			net->ws_size = ws;
	}
	net->wino_on = 1;
	net->params = cxr_calloc_huge(net->nparams, sizeof(float));
	net->grads = cxr_calloc_huge(net->nparams, sizeof(float));
	net->buffers = calloc(net->nbuffers, sizeof(float));
	net->bstats = calloc(net->nbuffers ? net->nbuffers : 1, sizeof(double));
	net->bn_update = 1;
	net->dlogits = calloc(max_batch, sizeof(float));
	net->ws = cxr_aligned_huge(64, (net->ws_size + 16) * sizeof(float));
	net->wtmp = cxr_aligned_huge(64, (net->wtmp_w + net->wtmp_size + 32) * sizeof(float));
	if (!net->params || !net->grads || !net->buffers || !net->bstats || !net->dlogits ||
	    !net->ws || !net->wtmp) {
		cxr_seterr("out of memory for a network of %zu parameters", net->nparams);
		cxr_resnet_free(net);
		return NULL;
	}
	point_tensors(net);
	for (int i = 0; i < net->nt; i++)
		if (net->role[i] == R_RVAR)
			for (size_t k = 0; k < net->t[i].numel; k++)
				net->buffers[net->t[i].offset + k] = 1;
	cxr_rng_seed(&net->rng, 0);
	for (int i = 0; i < CXR_PROF_N; i++)
		net->prof[i].name = prof_names[i];
	return net;
}

void cxr_resnet_free(cxr_resnet *net)
{
	if (!net)
		return;
	for (int i = 0; i < net->nt; i++)
		free((char *)net->t[i].name);
	free(net->t);
	free(net->role);
	free(net->fields);
	free(net->params);
	free(net->grads);
	free(net->buffers);
	free(net->fold);
	free(net->dlogits);
	free(net->bstats);
	free(net->act);
	free(net->ws);
	free(net->wtmp);
	free(net->wfold);
	free(net->fpack);
	free(net->wpack);
	free(net);
}

const cxr_resnet_config *cxr_resnet_get_config(const cxr_resnet *net)
{
	return &net->cfg;
}

int cxr_resnet_max_batch(const cxr_resnet *net)
{
	return net->max_batch;
}

size_t cxr_resnet_num_params(const cxr_resnet *net)
{
	return net->nparams;
}

float *cxr_resnet_params(cxr_resnet *net)
{
	return net->params;
}

float *cxr_resnet_grads(cxr_resnet *net)
{
	return net->grads;
}

size_t cxr_resnet_num_buffers(const cxr_resnet *net)
{
	return net->nbuffers;
}

float *cxr_resnet_buffers(cxr_resnet *net)
{
	return net->buffers;
}

void cxr_resnet_params_changed(cxr_resnet *net)
{
	net->fold_valid = 0;
}

int cxr_resnet_ntensors(const cxr_resnet *net)
{
	return net->nt;
}

const cxr_resnet_tensor *cxr_resnet_tensor_at(const cxr_resnet *net, int i)
{
	return i >= 0 && i < net->nt ? &net->t[i] : NULL;
}

const cxr_resnet_tensor *cxr_resnet_tensor_find(const cxr_resnet *net, const char *name)
{
	for (int i = 0; i < net->nt; i++)
		if (!strcmp(net->t[i].name, name))
			return &net->t[i];
	return NULL;
}

float *cxr_resnet_dlogits(cxr_resnet *net)
{
	return net->dlogits;
}

cxr_rng *cxr_resnet_rng(cxr_resnet *net)
{
	return &net->rng;
}

void cxr_resnet_set_bn_update(cxr_resnet *net, int on)
{
	net->bn_update = on;
}

const double *cxr_resnet_bn_batch_stats(const cxr_resnet *net)
{
	return net->bstats;
}

void cxr_resnet_bn_apply(cxr_resnet *net, const double *stats)
{
	for (int i = 0; i < net->nunits; i++) {
		unit *u = net->units[i];
		bn_update_running(u->running_mean, u->running_var,
				  stats + (u->running_mean - net->buffers),
				  stats + (u->running_var - net->buffers), u->d.o, net->bn_momentum);
	}
	net->fold_valid = 0;
}

void cxr_resnet_set_fold(cxr_resnet *net, int fold)
{
	net->fold_on = fold;
}

/* The folded, transformed and packed weights follow the precision and
 * which convolutions run by Winograd: planned and made again at the next
 * folded forward. */
static void drop_packed(cxr_resnet *net)
{
	free(net->fpack);
	free(net->wfold);
	free(net->fold);
	net->fpack = net->wfold = net->fold = NULL;
	net->planned = 0;
	net->fold_valid = 0;
}

void cxr_resnet_set_winograd(cxr_resnet *net, int on)
{
	if (on != net->wino_on)
		drop_packed(net);
	net->wino_on = on;
}

int cxr_resnet_set_precision(cxr_resnet *net, int prec)
{
	if (prec != CXR_PREC_FP32 && prec != CXR_PREC_BF16) {
		cxr_seterr("unknown precision %d", prec);
		return -1;
	}
	if (!cxr_precision_available((cxr_precision)prec))
		return -1;
	if (prec != net->prec)
		drop_packed(net);
	net->prec = prec;
	for (int i = 0; i < net->nunits; i++)
		net->units[i]->d.prec = prec;
	/* the training tensors' sizes follow (act16): what a forward in the
	 * other precision left cannot be backpropagated */
	layout(net);
	point_arena(net);
	net->last_train = 0;
	return 0;
}

int cxr_resnet_get_precision(const cxr_resnet *net)
{
	return net->prec;
}

void cxr_resnet_set_threads(int n)
{
	cxr_par_set_threads(n);
}

/* p[0..n) = 0 on every thread: a memset on one would leave the other
 * cores idle (the gradients' 94 MB at width 1, every step). */
static void zero(float *p, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i += 16384)
		memset(p + i, 0, (n - i < 16384 ? n - i : 16384) * sizeof *p);
}

void cxr_resnet_zero_grads(cxr_resnet *net)
{
	zero(net->grads, net->nparams);
}

/* ---- profiling ---- */

void cxr_resnet_profile(cxr_resnet *net, int on)
{
	net->prof_on = on;
	for (int i = 0; i < CXR_PROF_N; i++) {
		net->prof[i].sec[0] = net->prof[i].sec[1] = 0;
		net->prof[i].flop[0] = net->prof[i].flop[1] = 0;
	}
}

const cxr_resnet_prof *cxr_resnet_profile_get(const cxr_resnet *net, int kind)
{
	return kind >= 0 && kind < CXR_PROF_N ? &net->prof[kind] : NULL;
}

/* Runs stmt, charging its time and flops to kind in phase (0 fwd, 1 bwd). */
#define TIMED(net, kind, phase, flops, ...)                                    \
	do {                                                                   \
		double t0_ = (net)->prof_on ? cxr_now() : 0;                   \
		__VA_ARGS__;                                                   \
		if ((net)->prof_on) {                                          \
			(net)->prof[kind].sec[phase] += cxr_now() - t0_;       \
			(net)->prof[kind].flop[phase] += (flops);              \
		}                                                              \
	} while (0)

static double conv_flops(const conv_dims *d)
{
	return 2.0 * d->n * d->oh * d->ow * d->o * d->kh * d->kw * d->c;
}

double cxr_resnet_flops(const cxr_resnet *net, int train)
{
	double f = 0;
	for (int i = 0; i < net->nunits; i++) {
		const unit *u = net->units[i];
		double k = conv_flops(&u->d) / u->d.n;
		/* backward: weight gradient, and input gradient except for the stem */
		f += train ? (u == &net->stem.conv1 ? 2 : 3) * k : k;
	}
	double head = 2.0 * net->feat * net->cfg.head_hidden + 2.0 * net->cfg.head_hidden;
	return f + (train ? 3 : 1) * head;
}

/* ---- forward and backward ---- */

static conv_dims at_batch(const unit *u, int n)
{
	conv_dims d = u->d;
	d.n = n;
	return d;
}

/* dst (O,C,3,3) = src (O,3,3,C) */
static void to_oc33(float *dst, const float *src, int o, int c)
{
#pragma omp parallel for schedule(static)
	for (int j = 0; j < o; j++)
		for (int k = 0; k < 9; k++)
			for (int i = 0; i < c; i++)
				dst[((size_t)j * c + i) * 9 + k] = src[((size_t)j * 9 + k) * c + i];
}

/* dst (O,3,3,C) += src (O,C,3,3) */
static void add_from_oc33(float *dst, const float *src, int o, int c)
{
#pragma omp parallel for schedule(static)
	for (int j = 0; j < o; j++)
		for (int k = 0; k < 9; k++)
			for (int i = 0; i < c; i++)
				dst[((size_t)j * 9 + k) * c + i] += src[((size_t)j * c + i) * 9 + k];
}

static int use_wino(const cxr_resnet *net, const unit *u)
{
	return u->wino && net->wino_on;
}

/* Inference in bf16: a 3x3 layer with few Winograd tiles per image (late
 * in the network) runs faster as im2col and the bf16 product, whose
 * register block Winograd's 36 products of (tiles x C) cannot fill at a
 * small batch. Decided per image, not per batch, so that an image's
 * score does not depend on the batch it came in. */
static int plan_wino(const cxr_resnet *net, const unit *u)
{
	if (!use_wino(net, u))
		return 0;
	if (net->prec != CXR_PREC_BF16 || !cxr_gemm_can_prepack(net->prec))
		return 1;
	/* measured at 256x256: stages 3 and 4 (16 and 4 tiles) gain */
	return ((u->d.oh + 3) / 4) * ((u->d.ow + 3) / 4) >= 64;
}

/* Scoring in fp32: a stride-2 3x3 layer runs by the stride-2 Winograd
 * (wino.h) where an image has enough output tiles to use its 81 weight
 * matrices (81 C K floats) well, by im2col and the product elsewhere.
 * Measured at 256x256, 2 threads, in one process alternating the plans:
 * stages 2 and 3 (64 and 16 tiles an image, U 5 and 21 MB) by Winograd
 * took the 3x3 layers from 135 to 127 ms a batch of 8 and left batch 1
 * as it was (-0.1 to -0.5 ms); stage 4 too (4 tiles, U 85 MB, streamed
 * from memory for every batch) gained as much again at batch 8 but cost
 * 1.6 ms an image at batch 1. bf16 scoring keeps its bf16 product. Decided
 * per image, as plan_wino. */
static int plan_wino2(const cxr_resnet *net, const unit *u)
{
	if (!u->wino2 || !net->wino_on || net->prec != CXR_PREC_FP32)
		return 0;
	return ((u->d.oh + 3) / 4) * ((u->d.ow + 3) / 4) >= 16;
}

/* Training in bf16 (and the unfolded evaluation, which runs its
 * convolutions): a 3x3 layer whose Winograd weight transform (36 C K
 * values, made every pass, with a workspace to match) outweighs its
 * batch's input (N H W C) runs as im2col and the bf16 product (at
 * 256x256, batch 16, the last two stages: stage 4's transform and
 * workspace alone were 100 MB of the peak). The others keep fp32
 * Winograd: bf16 products in every 3x3 layer slowed learning on the
 * demo's recipe (a seed stuck near chance for 17 of 20 epochs). Decided
 * by the network's batch size, so a short last batch runs as the others. */
static int train_wino(const cxr_resnet *net, const unit *u)
{
	if (!use_wino(net, u))
		return 0;
	if (net->prec != CXR_PREC_BF16)
		return 1;
	return 36 * (size_t)u->d.o <= (size_t)u->d.n * u->d.h * u->d.w;
}

/* out (N,OH,OW,O) = conv(in) with weight w (O,KH,KW,C) [+ out if
 * CONV_ACCUM] [+ bias (O) if not NULL]: Winograd where it applies, else
 * im2col + sgemm. in and out fp32, or bf16 as CONV_IN_BF16 and
 * CONV_OUT_BF16 say. stats (NULL: none): batch norm's sums of out, added
 * as it is stored (unit_train); the product then runs on weights packed
 * in wpack (as in bf16, whose product writes the bf16 output). */
static void unit_conv(cxr_resnet *net, const unit *u, void *out, const void *in,
		      const float *w, const float *bias, int flags, int n, double *stats)
{
	conv_dims d = at_batch(u, n);
	if (train_wino(net, u)) {
		float *U = net->wtmp + net->wtmp_w;
		to_oc33(net->wtmp, w, d.o, d.c);
		cxr_wino_transform_weights(U, net->wtmp, d.c, d.o);
		cxr_wino_forward_act(out, !!(flags & CONV_OUT_BF16), in, !!(flags & CONV_IN_BF16), U, n,
				     d.h, d.w, d.c, d.o, net->ws, !!(flags & CONV_ACCUM), bias, 0, stats);
	} else if (stats || (flags & (CONV_IN_BF16 | CONV_OUT_BF16))) {
		conv_pack_weights(net->wpack, w, &d);
		conv_forward_packed_stats(out, in, net->wpack, bias, &d, net->ws, flags, stats);
	} else {
		conv_forward(out, in, w, bias, &d, net->ws, flags);
	}
}

/* Where a unit's training tensors are held in bf16 (act16): its input,
 * output and residual (a block's input and output; the convolution's
 * output always, then); in backward (grad16), the gradient of its output
 * and the residual's (IO_DOUT16), and of its input (IO_DIN16). */
enum { IO_IN16 = 1, IO_OUT16 = 2, IO_RES16 = 4, IO_DOUT16 = 8, IO_DIN16 = 16 };

/* Training in bf16 keeps the gradients of the blocks' outputs and inputs
 * (and so of the shortcuts) in bf16, as autocast does: they are the
 * largest gradients, read by batch norm's two passes and added to by a
 * product, and bf16 halves those bytes. Not Keras's architecture, whose
 * convolutions' biases sum the gradient of their output in fp32 and
 * whose strided conv1 adds into the block's input gradient by im2col. */
static int grad16(const cxr_resnet *net)
{
	return act16(net) && net->cfg.arch == CXR_ARCH_TORCHVISION;
}

/* out = [relu](bn(conv(in)) [+ res]) in training mode; io: IO_*. */
static void unit_train(cxr_resnet *net, unit *u, const void *in, void *out, const void *res,
		       int relu, int io, int n)
{
	conv_dims d = at_batch(u, n);
	size_t m = (size_t)n * d.oh * d.ow;
	const int a16 = act16(net);
	const int cf = a16 ? CONV_OUT_BF16 | (io & IO_IN16 ? CONV_IN_BF16 : 0) : 0;
	const int bf = a16 ? BN_IN_BF16 | (io & IO_OUT16 ? BN_OUT_BF16 : 0) |
				     (io & IO_RES16 ? BN_RES_BF16 : 0)
			   : 0;
	/* where the own product (unit_conv's packed path) or Winograd's
	 * output transform (fp32) stores the convolution's output, it adds up
	 * batch norm's sums as it does: a pass over the output spared, half
	 * of batch norm's forward time (fp32, batch 16: about 110 -> 60 ms a step);
	 * elsewhere (OpenBLAS, Winograd into bf16) batch norm sums them itself */
	const int nt = omp_get_max_threads();
	const int fused = train_wino(net, u) ? !(cf & CONV_OUT_BF16)
					     : cxr_gemm_can_prepack(net->prec);
	double *stats = fused ? cxr_xcalloc((size_t)nt * 2 * d.o, sizeof *stats) : NULL;
	TIMED(net, u->kind, 0, conv_flops(&d),
	      unit_conv(net, u, u->conv_out, in, u->params.conv_w, u->params.conv_b, cf, n, stats));
	int upd = net->bn_update;
	TIMED(net, CXR_PROF_BN, 0, 0,
	      bn_forward_train_sums(out, u->bn_mean, u->bn_istd, upd ? u->running_mean : NULL,
				    upd ? u->running_var : NULL,
				    net->bstats + (u->running_mean - net->buffers),
				    net->bstats + (u->running_var - net->buffers), stats, nt,
				    u->conv_out, u->params.bn_gamma, u->params.bn_beta, res, relu, m,
				    d.o, net->bn_momentum, net->bn_eps, bf));
	free(stats);
}

/* din += d(unit)/din (acc 1; acc 0: din = ...) given dout, the gradient
 * of the unit's output, which T, where the gradient of the convolution's
 * output goes (fp32, or rows of bf16 over them, or over a bf16 dout as it
 * lies), may be (dout is then spent). relu: the unit ended in a
 * ReLU, whose mask comes from out, the unit's output, or when NULL (no
 * residual) from its input. dres (or NULL): gets the gradient of the
 * unit's residual, dout masked by the ReLU, from the same pass (needs
 * relu and out). io: IO_IN16 (in held in bf16), IO_OUT16 (out), IO_DOUT16
 * (dout and dres), IO_DIN16 (din). */
static void unit_backward(cxr_resnet *net, unit *u, void *din, int acc, const void *in,
			  void *T, const void *dout, const void *out, void *dres, int relu,
			  int io, int n)
{
	conv_dims d = at_batch(u, n);
	size_t m = (size_t)n * d.oh * d.ow;
	const int a16 = act16(net);
	/* the gradient of the convolution's output in bf16 where only
	 * products read it (not Winograd's transforms, not a bias's sum),
	 * which round it so anyway: the same bits, half the bytes to read;
	 * its rows over T's fp32 rows */
	const int t16 = a16 && !train_wino(net, u) && !u->grads.conv_b;
	const int d16 = !!(io & IO_DOUT16);
	if ((d16 && !t16 && (const void *)T == dout) || ((io & IO_DIN16) && train_wino(net, u)))
		cxr_die(CXR_EXIT_DATA, "internal error: a bf16 gradient where a %dx%d convolution "
			"needs fp32", d.kh, d.kw);
	const int bf = a16 ? BN_IN_BF16 | (io & IO_OUT16 ? BN_OUT_BF16 : 0) |
				     (t16 ? BN_DIN_BF16 : 0) | (d16 ? BN_DOUT_BF16 : 0)
			   : 0;
	TIMED(net, CXR_PROF_BN, 1, 0,
	      bn_backward_act(T, dres, u->grads.bn_gamma, u->grads.bn_beta, dout, out, u->conv_out,
			      u->bn_mean, u->bn_istd, u->params.bn_gamma, u->params.bn_beta, relu, m,
			      d.o, 0, bf));
	/* the bias's gradient: analytically 0 ahead of a training-mode batch
	 * norm, which subtracts the batch mean; rounding leaves it tiny */
	if (u->grads.conv_b)
		TIMED(net, u->kind, 1, 0, conv_bias_backward(u->grads.conv_b, T, m, d.o));
	if (!train_wino(net, u)) {
		TIMED(net, u->kind, 1, (din ? 2 : 1) * conv_flops(&d),
		      conv_backward_act(din, u->grads.conv_w, T, in, u->params.conv_w, &d, net->ws,
					(acc ? CONV_ACCUM : 0) |
						(a16 && (io & IO_IN16) ? CONV_IN_BF16 : 0) |
						(t16 ? CONV_DOUT_BF16 : 0) |
						(t16 && d16 ? CONV_DOUT_DENSE : 0) |
						(io & IO_DIN16 ? CONV_DIN_BF16 : 0)));
		return;
	}
	/* Winograd's inputs (a block's relu(bn1(conv1))) are fp32 */
	TIMED(net, u->kind, 1, (din ? 2 : 1) * conv_flops(&d), {
		/* dW in PyTorch's layout, then added into ours */
		float *dw = net->wtmp, *U = net->wtmp + net->wtmp_w;
		zero(dw, (size_t)d.o * 9 * d.c);
		cxr_wino_backward_weights(dw, in, T, n, d.h, d.w, d.c, d.o, net->ws);
		add_from_oc33(u->grads.conv_w, dw, d.o, d.c);
		if (din) {
			/* din += conv with the rotated, transposed kernel */
			to_oc33(dw, u->params.conv_w, d.o, d.c);
			cxr_wino_transform_weights_backward(U, dw, d.c, d.o);
			cxr_wino_forward(din, T, U, n, d.h, d.w, d.o, d.c, net->ws, acc);
		}
	});
}

/* -- training: the stem, each block and the head forward, then backward
 *    given the gradient of their output -- */

/* out = the stem's 3x3/2 max pool of relu_out (its conv1's output), in
 * bf16 with a16; idx (or NULL): the winners, for backward. */
static void stem_pool(cxr_resnet *net, float *out, int32_t *idx, const float *relu_out, int a16,
		      int n)
{
	const conv_dims *d = &net->stem.conv1.d;
	if (a16)
		TIMED(net, CXR_PROF_POOL, 0, 0,
		      maxpool_forward_bf16((uint16_t *)out, idx, relu_out, n, d->oh, d->ow, d->o, 3, 2,
					   1));
	else
		TIMED(net, CXR_PROF_POOL, 0, 0,
		      maxpool_forward(out, idx, relu_out, n, d->oh, d->ow, d->o, 3, 2, 1));
}

/* input -> relu(bn1(conv1)) (in ring 0, free in a training forward) ->
 * max pool: stem.pool_out. */
static void stem_forward(cxr_resnet *net, int n)
{
	stem *s = &net->stem;
	float *relu_out = net->ring[0];
	unit_train(net, &s->conv1, net->input, relu_out, NULL, 1, 0, n);
	/* in bf16 where the blocks' outputs are (act16): the first block's
	 * products read it, which round it so anyway */
	stem_pool(net, s->pool_out, s->pool_idx, relu_out, act16(net), n);
}

/* The stem's gradients given dpool_out, that of its output; drelu_out:
 * scratch of the largest activation for the gradient of relu_out (whose
 * mask backward recomputes from conv_out), then of conv1's output. */
static void stem_backward(cxr_resnet *net, const void *dpool_out, float *drelu_out, int n)
{
	stem *s = &net->stem;
	const conv_dims *d = &s->conv1.d;
	TIMED(net, CXR_PROF_OTHER, 1, 0, zero(drelu_out, (size_t)n * d->oh * d->ow * d->o));
	if (grad16(net))
		TIMED(net, CXR_PROF_POOL, 1, 0,
		      maxpool_backward_bf16(drelu_out, dpool_out, s->pool_idx, n, d->oh, d->ow, d->o,
					    s->ph, s->pw));
	else
		TIMED(net, CXR_PROF_POOL, 1, 0,
		      maxpool_backward(drelu_out, dpool_out, s->pool_idx, n, d->oh, d->ow, d->o,
				       s->ph, s->pw));
	unit_backward(net, &s->conv1, NULL, 0, net->input, drelu_out, drelu_out, NULL, NULL, 1, 0,
		      n);
}

/* Block i's input: the stem's output or the block before's. */
static const float *block_in(const cxr_resnet *net, int i)
{
	return i ? net->blocks[i - 1].out : net->stem.pool_out;
}

/* IO_IN16 where a tensor only products read is held in bf16 (act16): a
 * block's input (a block's output or the stem's) and its relu2_out (conv3
 * is a 1x1). */
static int in16_act(const cxr_resnet *net)
{
	return act16(net) ? IO_IN16 : 0;
}

/* Where a block's ReLU outputs (mid1, mid2) are held in bf16 (IO_IN16
 * for their readers): where only products read them, which round them so
 * anyway (the same bits) -- relu2_out always (in16_act), relu1_out unless
 * conv2 runs on fp32 Winograd. Their gradients, written over them in
 * backward, stay fp32 (the buffers keep fp32 size). */
static int mid1_16(const cxr_resnet *net, const block *b)
{
	return act16(net) && !train_wino(net, &b->conv2) ? IO_IN16 : 0;
}

/* IO_IN16 (a reader's flag) as IO_OUT16 (its writer's). */
static int as_out16(int in16)
{
	return in16 ? IO_OUT16 : 0;
}

/* in -> b->out; in16: IO_IN16 or 0. */
static void block_forward(cxr_resnet *net, block *b, const float *in, int in16, int n)
{
	float *relu1_out = net->mid1, *relu2_out = net->mid2;
	const int o16 = act16(net) ? IO_OUT16 | IO_RES16 : 0;
	const int m1 = mid1_16(net, b), m2 = in16_act(net);
	unit_train(net, &b->conv1, in, relu1_out, NULL, 1, in16 | as_out16(m1), n);
	unit_train(net, &b->conv2, relu1_out, relu2_out, NULL, 1, m1 | as_out16(m2), n);
	/* the shortcut: bn(downsample(in)) into out, or in itself */
	if (b->has_downsample)
		unit_train(net, &b->downsample, in, b->out, NULL, 0, in16 | o16, n);
	unit_train(net, &b->conv3, relu2_out, b->out, b->has_downsample ? b->out : in, 1, m2 | o16,
		   n);
}

/* out = relu(bn(conv)) of a unit's training forward (no residual),
 * recomputed from its conv_out and statistics; out16: IO_IN16 (out held
 * in bf16) or 0. */
static void unit_replay(cxr_resnet *net, const unit *u, void *out, int out16, int n)
{
	conv_dims d = at_batch(u, n);
	TIMED(net, CXR_PROF_BN, 1, 0,
	      bn_forward_replay_act(out, u->conv_out, u->bn_mean, u->bn_istd, u->params.bn_gamma,
				    u->params.bn_beta, 1, (size_t)n * d.oh * d.ow, d.o,
				    (act16(net) ? BN_IN_BF16 : 0) | (out16 ? BN_OUT_BF16 : 0)));
}

/* din = the gradient of the block's input in given dout, that of its
 * output, which it spends. Each gradient of a convolution's output is
 * written over the gradient it comes from, or (the shortcut's) over dout
 * once that is spent: no tensor of its own. */
static void block_backward(cxr_resnet *net, block *b, const float *in, int in16, void *dout,
			   void *din, int n)
{
	const int o16 = act16(net) ? IO_OUT16 : 0;
	/* dout and din in bf16 (grad16), and so the shortcut's gradient */
	const int g16 = grad16(net) ? IO_DOUT16 : 0, gi16 = grad16(net) ? IO_DIN16 : 0;
	/* conv3 first: its batch norm's backward writes the gradient of
	 * conv3's output over dout and the shortcut's gradient (dout masked
	 * by the block's ReLU) into din: the identity's, or the projection's
	 * to start from. conv3 is 1x1 stride 1 in both architectures: a plain
	 * product, whose weight gradient is taken before its input gradient
	 * is written over relu2_out */
	float *relu1_out = net->mid1, *relu2_out = net->mid2, *drelu2_out = relu2_out;
	const int m1 = mid1_16(net, b), m2 = in16_act(net);
	unit_replay(net, &b->conv2, relu2_out, m2, n);
	unit_backward(net, &b->conv3, drelu2_out, 0, relu2_out, dout, dout, b->out, din, 1,
		      m2 | o16 | g16, n);
	/* the projection: from the masked gradient in din (no ReLU of its
	 * own), its convolution's gradient over dout, then din written */
	if (b->has_downsample)
		unit_backward(net, &b->downsample, din, 0, in, dout, din, NULL, NULL, 0,
			      in16 | g16 | gi16, n);
	/* dout is spent: it takes the gradient of relu1_out */
	float *drelu1_out = dout;
	unit_replay(net, &b->conv1, relu1_out, m1, n);
	unit_backward(net, &b->conv2, drelu1_out, 0, relu1_out, drelu2_out, drelu2_out, NULL, NULL,
		      1, m1, n);
	unit_backward(net, &b->conv1, din, 1, in, drelu1_out, drelu1_out, NULL, NULL, 1,
		      in16 | gi16, n);
}

/* in, the last block's output (bf16 values where act16) -> head.logits. */
static void head_forward(cxr_resnet *net, const float *in, int n)
{
	head *h = &net->head;
	const int hid = net->cfg.head_hidden;
	const size_t nh = (size_t)n * hid;
	TIMED(net, CXR_PROF_HEAD, 0, 0, {
		if (act16(net))
			gmaxpool_forward_bf16(h->pool_out, h->pool_idx, (const uint16_t *)in, n,
					      net->fh * net->fw, net->feat);
		else
			gmaxpool_forward(h->pool_out, h->pool_idx, in, n, net->fh * net->fw,
					 net->feat);
		dense_forward(net->prec, h->fc1_out, h->pool_out, h->params.fc1_w, h->params.fc1_b, n,
			      net->feat, hid);
		relu_forward(h->relu_out, h->fc1_out, nh);
		if (!net->mask_given)
			dropout_mask(h->dropout_mask, nh, (float)net->cfg.dropout, &net->rng);
		net->mask_given = 0;
		dropout_forward(h->dropout_out, h->relu_out, h->dropout_mask, nh);
		dense_forward(net->prec, h->logits, h->dropout_out, h->params.fc2_w, h->params.fc2_b, n, hid,
			      1);
	});
}

/* din (N,FH,FW,FEAT) = the gradient of the head's input given dlogits,
 * in bf16 with grad16. */
static void head_backward(cxr_resnet *net, void *din, int n)
{
	head *h = &net->head;
	const int hid = net->cfg.head_hidden;
	const size_t nh = (size_t)n * hid;
	TIMED(net, CXR_PROF_HEAD, 1, 0, {
		zero(h->ddropout_out, nh);
		dense_backward(net->prec, h->ddropout_out, h->grads.fc2_w, h->grads.fc2_b, net->dlogits,
			       h->dropout_out, h->params.fc2_w, n, hid, 1);
		zero(h->drelu_out, nh);
		dropout_backward(h->drelu_out, h->ddropout_out, h->dropout_mask, nh);
		relu_backward(h->dfc1_out, h->drelu_out, h->relu_out, nh, 0);
		zero(h->dpool_out, (size_t)n * net->feat);
		dense_backward(net->prec, h->dpool_out, h->grads.fc1_w, h->grads.fc1_b, h->dfc1_out,
			       h->pool_out, h->params.fc1_w, n, net->feat, hid);
		const size_t nin = (size_t)n * net->fh * net->fw * net->feat;
		if (grad16(net)) {
			memset(din, 0, nin * sizeof(uint16_t));
			gmaxpool_backward_bf16(din, h->dpool_out, h->pool_idx, n, net->fh * net->fw,
					       net->feat);
		} else {
			zero(din, nin);
			gmaxpool_backward(din, h->dpool_out, h->pool_idx, n, net->fh * net->fw,
					  net->feat);
		}
	});
}

/* Training where the own kernel runs: wpack sized for the largest
 * convolution the matrix product runs (its weights packed there each
 * pass, so that the product can add batch norm's sums: unit_train), in
 * the precision and kernel in force now (their panels differ). -1 when
 * memory is short. */
static int training_scratch(cxr_resnet *net)
{
	if (!cxr_gemm_can_prepack(net->prec))
		return 0;
	size_t need = 0;
	for (int i = 0; i < net->nunits; i++) {
		size_t p = conv_packed_size(&net->units[i]->d);
		need = p > need ? p : need;
	}
	if (need <= net->wpack_size)
		return 0;
	free(net->wpack);
	net->wpack_size = 0;
	net->wpack = cxr_aligned_huge(64, need * sizeof(float));
	if (!net->wpack) {
		cxr_seterr("out of memory for the packed weights of a convolution");
		return -1;
	}
	net->wpack_size = need;
	return 0;
}

static void forward_train(cxr_resnet *net, int n)
{
	stem_forward(net, n);
	for (int i = 0; i < net->nblocks; i++)
		block_forward(net, &net->blocks[i], block_in(net, i), in16_act(net), n);
	head_forward(net, block_in(net, net->nblocks), n);
}

int cxr_resnet_backward(cxr_resnet *net)
{
	const int n = net->last_n;
	if (!net->last_train || n < 1) {
		cxr_seterr("backward without a training forward pass before it");
		return -1;
	}
	/* rotating gradient buffers: dout (a block's output), din (its
	 * input); bf16 with grad16 */
	float *dout = net->ring[0], *din = net->ring[1];
	head_backward(net, dout, n);
	for (int i = net->nblocks - 1; i >= 0; i--) {
		block_backward(net, &net->blocks[i], block_in(net, i), in16_act(net), dout, din,
			       n);
		float *t = dout;
		dout = din, din = t;
	}
	stem_backward(net, dout, din, n);
	return 0;
}

/* -- inference -- */

/* Floats of a convolution's weights (O,KH,KW,C). */
static size_t weights_of(const conv_dims *d)
{
	return (size_t)d->o * d->kh * d->kw * d->c;
}

/* Which convolutions run by Winograd at inference (their folded weights
 * transformed into wfold) and which by the matrix product (packed into
 * fpack where the product can take them packed: at batch 1 repacking a
 * 1x1's weights on every call costs a third of its time), for the
 * precision and Winograd setting in force; each set made only for the
 * convolutions that use it. -1 when memory is short. */
static int plan_inference(cxr_resnet *net)
{
	if (net->planned)
		return 0;
	const int can_pack = cxr_gemm_can_prepack(net->prec);
	size_t nwfold = 0, npack = 0, nfold = 0;
	for (int i = 0; i < net->nunits; i++) {
		unit *u = net->units[i];
		u->infer_wino = plan_wino(net, u) ? WINO_S1 : plan_wino2(net, u) ? WINO_S2 : 0;
		u->fold_pack = u->fold_w = NO_OFFSET;
		if (u->infer_wino) {
			const size_t nu = u->infer_wino == WINO_S2 ? cxr_wino2_weights_size(u->d.c, u->d.o)
								   : cxr_wino_weights_size(u->d.c, u->d.o);
			u->wino_fold_w = nwfold;
			nwfold += (nu + 15) & ~(size_t)15;
		} else if (can_pack) {
			u->fold_pack = npack;
			npack += (conv_packed_size(&u->d) + 15) & ~(size_t)15;
		} else {
			u->fold_w = nfold;
			nfold += weights_of(&u->d);
		}
		u->fold_b = nfold;
		nfold += u->d.o;
	}
	/* the folded weights themselves only where a product reads them
	 * unpacked: elsewhere a copy as large as the network's parameters
	 * (94 MB at width 1), written once and never read again, a fifth of
	 * what scoring one image faulted in */
	net->fold = cxr_aligned_huge(64, nfold * sizeof(float));
	net->wfold = nwfold ? cxr_aligned_huge(64, nwfold * sizeof(float)) : NULL;
	net->fpack = npack ? cxr_aligned_huge(64, npack * sizeof(float)) : NULL;
	if (!net->fold || (nwfold && !net->wfold) || (npack && !net->fpack)) {
		cxr_seterr("out of memory for the folded weights (%zu MB)",
			   (nfold + nwfold + npack) * sizeof(float) >> 20);
		drop_packed(net);
		return -1;
	}
	net->planned = 1;
	return 0;
}

static int fold_weights(cxr_resnet *net)
{
	/* one layer at a time where the plan keeps no folded weights */
	size_t most = 0;
	for (int i = 0; i < net->nunits; i++)
		if (net->units[i]->fold_w == NO_OFFSET && weights_of(&net->units[i]->d) > most)
			most = weights_of(&net->units[i]->d);
	float *F = net->fold, *scratch = most ? malloc(most * sizeof *scratch) : NULL;
	if (most && !scratch) {
		cxr_seterr("out of memory for folded weights");
		return -1;
	}
	for (int i = 0; i < net->nunits; i++) {
		const unit *u = net->units[i];
		const int o = u->d.o;
		const size_t k = (size_t)u->d.kh * u->d.kw * u->d.c;
		float *scale = cxr_xmalloc(o * sizeof *scale);
		bn_fold(scale, F + u->fold_b, u->params.bn_gamma, u->params.bn_beta,
			u->running_mean, u->running_var, o, net->bn_eps);
		/* bn(conv(x) + b) = scale * conv(x) + (shift + scale * b) */
		if (u->params.conv_b)
			for (int j = 0; j < o; j++)
				F[u->fold_b + j] += scale[j] * u->params.conv_b[j];
		float *restrict fw = u->fold_w != NO_OFFSET ? F + u->fold_w : scratch;
		const float *restrict w = u->params.conv_w;
		for (int j = 0; j < o; j++)
#pragma omp simd
			for (size_t q = 0; q < k; q++)
				fw[j * k + q] = w[j * k + q] * scale[j];
		free(scale);
		if (u->infer_wino) {
			to_oc33(net->wtmp, fw, o, u->d.c);
			(u->infer_wino == WINO_S2 ? cxr_wino2_transform_weights
						  : cxr_wino_transform_weights)(
				net->wfold + u->wino_fold_w, net->wtmp, u->d.c, o);
		}
		if (u->fold_pack != NO_OFFSET)
			conv_pack_weights(net->fpack + u->fold_pack, fw, &u->d);
	}
	free(scratch);
	net->fold_valid = 1;
	return 0;
}

/* out = [relu](conv(in) + bias [+ out]) with BN folded in; out and in
 * bf16 as flags say (CONV_OUT_BF16, CONV_IN_BF16). */
static void unit_folded(cxr_resnet *net, const unit *u, void *out, const void *in, int flags,
			int n)
{
	conv_dims d = at_batch(u, n);
	if (!u->infer_wino) {
		if (u->fold_pack != NO_OFFSET)
			TIMED(net, u->kind, 0, conv_flops(&d),
			      conv_forward_packed(out, in, net->fpack + u->fold_pack,
						  net->fold + u->fold_b, &d, net->ws, flags));
		else
			TIMED(net, u->kind, 0, conv_flops(&d),
			      conv_forward(out, in, net->fold + u->fold_w, net->fold + u->fold_b, &d,
					   net->ws, flags));
		return;
	}
	TIMED(net, u->kind, 0, conv_flops(&d),
	      (u->infer_wino == WINO_S2 ? cxr_wino2_forward_act : cxr_wino_forward_act)(
		      out, flags & CONV_OUT_BF16, in, flags & CONV_IN_BF16,
		      net->wfold + u->wino_fold_w, n, d.h, d.w, d.c, d.o, net->ws,
		      flags & CONV_ACCUM, net->fold + u->fold_b, flags & CONV_RELU, NULL));
}

/* out = [relu](bn(conv(in)) [+ res]), unfolded; tmp: conv output. */
static void unit_eval(cxr_resnet *net, const unit *u, float *out, float *tmp, const float *in,
		      const float *res, int relu, int n)
{
	conv_dims d = at_batch(u, n);
	TIMED(net, u->kind, 0, conv_flops(&d),
	      unit_conv(net, u, tmp, in, u->params.conv_w, u->params.conv_b, 0, n, NULL));
	TIMED(net, CXR_PROF_BN, 0, 0,
	      bn_forward_eval(out, tmp, u->params.bn_gamma, u->params.bn_beta, u->running_mean,
			      u->running_var, res, relu, (size_t)n * d.oh * d.ow, d.o, net->bn_eps));
}

/* Inference in bf16 with the folded, packed weights keeps the
 * activations between layers in bf16 (the product rounds its operands to
 * bf16 anyway; stored so they take half the memory traffic and need no
 * conversion when packed): the stem's pooled output and every
 * activation after it; Winograd's transforms and products stay fp32. A
 * convolution's result is rounded once, after its bias, residual and
 * ReLU. */
static int keeps_bf16(const cxr_resnet *net)
{
	return net->fold_on && net->prec == CXR_PREC_BF16 && cxr_gemm_can_prepack(net->prec);
}

/* input -> out, the stem's output (bf16 with a16); tmp: scratch of the
 * largest activation. */
static void stem_infer(cxr_resnet *net, float *out, float *tmp, const float *in, int a16, int n)
{
	const unit *conv1 = &net->stem.conv1;
	if (net->fold_on)
		unit_folded(net, conv1, tmp, in, CONV_RELU, n);
	else
		unit_eval(net, conv1, tmp, tmp, in, NULL, 1, n);
	stem_pool(net, out, NULL, tmp, a16, n);
}

/* Block b on R[cur], the activations rotating through the four buffers R:
 * returns the index of its output. */
static int block_infer(cxr_resnet *net, const block *b, float *const *R, int cur, int a16, int n)
{
	const float *in = R[cur];
	/* with a16 (keeps_bf16) every activation in bf16 */
	const int io = a16 ? CONV_IN_BF16 | CONV_OUT_BF16 : 0;
	float *relu1_out = R[(cur + 1) & 3], *relu2_out = R[(cur + 2) & 3];
	/* the shortcut's output, or in itself, conv3's adds into */
	const int dst = b->has_downsample ? (cur + 3) & 3 : cur;
	float *out = R[dst];
	if (net->fold_on) {
		unit_folded(net, &b->conv1, relu1_out, in, CONV_RELU | io, n);
		unit_folded(net, &b->conv2, relu2_out, relu1_out, CONV_RELU | io, n);
		if (b->has_downsample)
			unit_folded(net, &b->downsample, out, in, io, n);
		unit_folded(net, &b->conv3, out, relu2_out, CONV_ACCUM | CONV_RELU | io, n);
	} else {
		unit_eval(net, &b->conv1, relu1_out, relu1_out, in, NULL, 1, n);
		unit_eval(net, &b->conv2, relu2_out, relu2_out, relu1_out, NULL, 1, n);
		if (b->has_downsample)
			unit_eval(net, &b->downsample, out, out, in, NULL, 0, n);
		/* relu1_out is spent: it takes conv3's output */
		unit_eval(net, &b->conv3, out, relu1_out, relu2_out, out, 1, n);
	}
	return dst;
}

/* in, the last block's output (bf16 with a16) -> head.logits. */
static void head_infer(cxr_resnet *net, const float *in, int a16, int n)
{
	head *h = &net->head;
	const int hid = net->cfg.head_hidden;
	TIMED(net, CXR_PROF_HEAD, 0, 0, {
		if (a16)
			gmaxpool_forward_bf16(h->pool_out, NULL, (const uint16_t *)in, n, net->fh * net->fw,
					      net->feat);
		else
			gmaxpool_forward(h->pool_out, NULL, in, n, net->fh * net->fw, net->feat);
		dense_forward(net->prec, h->fc1_out, h->pool_out, h->params.fc1_w, h->params.fc1_b, n,
			      net->feat, hid);
		relu_forward(h->fc1_out, h->fc1_out, (size_t)n * hid);
		dense_forward(net->prec, h->logits, h->fc1_out, h->params.fc2_w, h->params.fc2_b, n, hid, 1);
	});
}

/* Images a pass through the stem and the first two stages takes at a
 * time. Their activations are large (at 256x256 a 256-channel 64x64 map
 * is 4 MB an image): a whole batch's stream through memory between
 * layers, one image's stay in cache, and their products are as large as
 * the matrix kernel needs. Every output element is computed the same way
 * whatever the number of images a pass takes (sums in the same order), so
 * this changes no score. */
#define EARLY_IMAGES 2

static void forward_infer(cxr_resnet *net, int n)
{
	float *const *R = net->ring;
	const size_t in_image = (size_t)net->cfg.height * net->cfg.width * net->cfg.in_channels;
	const int a16 = keeps_bf16(net);
	const size_t es = a16 ? sizeof(uint16_t) : sizeof(float);
	int early = 0, cur = 1;
	while (early < net->nblocks && net->blocks[early].stage < 2)
		early++;
	/* the pass from image i0 puts its images' activations at
	 * R[k] + i0 * ring_image in every ring */
	for (int i0 = 0; i0 < n; i0 += EARLY_IMAGES) {
		const int m = n - i0 < EARLY_IMAGES ? n - i0 : EARLY_IMAGES;
		float *Ri[4];
		for (int k = 0; k < 4; k++)
			Ri[k] = R[k] + (size_t)i0 * net->ring_image;
		stem_infer(net, Ri[1], Ri[0], net->input + (size_t)i0 * in_image, a16, m);
		cur = 1;
		for (int i = 0; i < early; i++)
			cur = block_infer(net, &net->blocks[i], Ri, cur, a16, m);
	}
	/* gathered into one (N,H,W,C) tensor for the rest, each pass's
	 * images moved down to their place (never past the next pass's) */
	if (n > EARLY_IMAGES) {
		/* stage 1 always has blocks: early >= 1 */
		const conv_dims *d = &net->blocks[early - 1].conv3.d;
		const size_t per = (size_t)d->oh * d->ow * d->o;
		for (int i0 = EARLY_IMAGES; i0 < n; i0 += EARLY_IMAGES) {
			const int m = n - i0 < EARLY_IMAGES ? n - i0 : EARLY_IMAGES;
			memmove((char *)R[cur] + i0 * per * es, R[cur] + i0 * net->ring_image,
				m * per * es);
		}
	}
	for (int i = early; i < net->nblocks; i++)
		cur = block_infer(net, &net->blocks[i], R, cur, a16, n);
	head_infer(net, R[cur], a16, n);
}

/* The arena at the size a pass in this mode needs, the tensors' pointers
 * aimed at it. */
static int arena(cxr_resnet *net, int train)
{
	size_t need = train ? net->train_size : net->eval_size;
	if (net->act_size >= need)
		return 0;
	free(net->act);
	net->act_size = 0;
	net->act = cxr_aligned_huge(64, need * sizeof(float));
	if (!net->act) {
		point_arena(net);
		cxr_seterr("out of memory for the activations of a batch of %d (%.1f GB)",
			   net->max_batch, need * 4e-9);
		return -1;
	}
	net->act_size = need;
	point_arena(net);
	return 0;
}

const float *cxr_resnet_forward(cxr_resnet *net, const float *x, int n, int train)
{
	if (n < 1 || n > net->max_batch) {
		cxr_seterr("batch of %d images, network made for 1 to %d", n, net->max_batch);
		return NULL;
	}
	net->last_train = 0;
	net->last_n = 0;
	if (arena(net, train))
		return NULL;
	if (!train && net->fold_on && !net->fold_valid)
		if (plan_inference(net) || fold_weights(net))
			return NULL;
	/* the input (N,C,H,W) as (N,H,W,C) */
	const int C = net->cfg.in_channels;
	const size_t hw = (size_t)net->cfg.height * net->cfg.width;
	float *xin = net->input;
	if (C == 1)
		memcpy(xin, x, (size_t)n * hw * sizeof *x);
	else
		for (int b = 0; b < n; b++)
			for (size_t p = 0; p < hw; p++)
				for (int c = 0; c < C; c++)
					xin[((size_t)b * hw + p) * C + c] =
						x[((size_t)b * C + c) * hw + p];
	if (train) {
		if (training_scratch(net))
			return NULL;
		forward_train(net, n);
		net->fold_valid = 0;
	} else {
		forward_infer(net, n);
	}
	net->last_n = n;
	net->last_train = train;
	return net->head.logits;
}

int cxr_resnet_set_dropout_mask(cxr_resnet *net, const float *mask, int n)
{
	if (n < 1 || n > net->max_batch) {
		cxr_seterr("dropout mask of %d rows, network made for 1 to %d", n, net->max_batch);
		return -1;
	}
	if (arena(net, 1))
		return -1;
	memcpy(net->head.dropout_mask, mask, (size_t)n * net->cfg.head_hidden * sizeof *mask);
	net->mask_given = 1;
	return 0;
}

float cxr_resnet_loss(cxr_resnet *net, const float *targets)
{
	if (net->last_n < 1)
		return NAN;
	return (float)bce_logits(net->dlogits, net->head.logits, targets, net->last_n);
}

/* ---- PyTorch layout ---- */

/* dst[o][j][i] = src[o][i][j] for each of O slabs of rows x cols: a
 * convolution's weights between PyTorch's (O,C,KH,KW) and ours
 * (O,KH,KW,C). With a 1x1's single tap the layouts agree. */
static void transpose_slabs(float *dst, const float *src, int64_t O, int64_t rows, int64_t cols)
{
	if (rows == 1 || cols == 1) {
		memcpy(dst, src, (size_t)(O * rows * cols) * sizeof *dst);
		return;
	}
	for (int64_t o = 0; o < O; o++, dst += rows * cols, src += rows * cols)
		for (int64_t i = 0; i < rows; i++)
			for (int64_t j = 0; j < cols; j++)
				dst[j * rows + i] = src[i * cols + j];
}

void cxr_resnet_tensor_export(const cxr_resnet_tensor *t, float *dst, const float *flat)
{
	const float *src = flat + t->offset;
	if (!t->is_conv) {
		memcpy(dst, src, t->numel * sizeof *dst);
		return;
	}
	/* (O,KH,KW,C) -> (O,C,KH,KW) */
	transpose_slabs(dst, src, t->dims[0], (int64_t)t->dims[2] * t->dims[3], t->dims[1]);
}

void cxr_resnet_tensor_import(const cxr_resnet_tensor *t, float *flat, const float *src)
{
	float *dst = flat + t->offset;
	if (!t->is_conv) {
		memcpy(dst, src, t->numel * sizeof *dst);
		return;
	}
	/* (O,C,KH,KW) -> (O,KH,KW,C) */
	transpose_slabs(dst, src, t->dims[0], t->dims[1], (int64_t)t->dims[2] * t->dims[3]);
}
