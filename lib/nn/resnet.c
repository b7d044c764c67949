/* resnet — the cxr ResNet-50: buffers, forward, backward
 * (see resnet.h). */
#include "nn/resnet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "base/cli.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "base/parallel.h"
#include "nn/maxpool.h"
#include "nn/wino.h"

#define NONE ((size_t)-1)
#define NSTAGES 4
#define MAXBLOCKS 16
#define MAXUNITS (1 + 4 * MAXBLOCKS)

static const int stage_blocks[NSTAGES] = {3, 4, 6, 3};

/* A convolution and the batch norm after it: every conv of the network. */
typedef struct unit {
	conv_dims d;              /* n = max batch */
	int kind;                 /* CXR_PROF_* */
	size_t w, gamma, beta;    /* params: weight (O,KH,KW,C), BN affine (O) */
	size_t rmean, rvar;       /* buffers (O) */
	size_t fw, fb;            /* fold: weight with BN folded in, bias (O) */
	size_t x, a, mean, istd;  /* activations (train): conv output (N,OH,OW,O),
				   * BN+ReLU output or NONE, batch mean, inverse std (O) */
	int wino;                 /* 3x3 stride 1 pad 1: Winograd can run it */
	size_t uf;                /* its folded weights transformed, in wfold */
} unit;

typedef struct block {
	unit c1, c2, c3, ds;      /* 1x1, 3x3 (stride), 1x1; ds: shortcut 1x1 */
	int has_ds;
	size_t out;               /* activation (train): relu(bn3 + shortcut) */
} block;

enum { R_CONV, R_BN_W, R_BN_B, R_RMEAN, R_RVAR, R_FC_W, R_FC_B };

struct cxr_resnet {
	cxr_resnet_config cfg;
	int max_batch;
	unit stem;
	int ph, pw;                 /* max pool output size */
	block b[MAXBLOCKS];
	int nblocks;
	unit *units[MAXUNITS];
	int nunits;
	int feat, fh, fw;           /* the last block's output (FH,FW,FEAT) */
	size_t fc1_w, fc1_b, fc2_w, fc2_b;

	size_t nparams, nbuffers, nfold;
	float *params, *grads, *buffers, *fold, *dlogits;
	int fold_valid, fold_on;

	cxr_resnet_tensor *t;
	int *role;
	int nt;

	/* The activation arena. Its first eval_size floats (input copy, four
	 * rotating buffers of the largest activation, head) serve both modes;
	 * training adds every activation backward needs. */
	float *act;
	size_t act_size, eval_size, train_size, maxact;
	size_t x_in, g[4], feat_o, hid, logits;
	size_t pool_o, pool_idx, gidx, hr, mask, hd, dhd, dhr, dh, dfeat;

	float *ws;                  /* im2col or Winograd workspace */
	size_t ws_size;
	/* Winograd (wino.h) for the 3x3 stride-1 convolutions: wtmp holds a
	 * weight set in PyTorch's layout then its transform, made per pass in
	 * training; wfold the transforms of the folded weights, made with them */
	int wino_on;
	float *wtmp, *wfold;
	size_t wtmp_w, wtmp_size, nwfold;
	cxr_rng rng;
	int mask_given;
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

static void add_tensor(cxr_resnet *net, const char *name, int role, size_t off, int ndim,
		       int64_t d0, int64_t d1, int64_t d2, int64_t d3)
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
	net->role[net->nt++] = role;
}

static void make_unit(cxr_resnet *net, unit *u, const char *conv, const char *bn, int h, int w,
		      int c, int o, int k, int s, int p)
{
	char name[96];
	conv_dims_set(&u->d, net->max_batch, h, w, c, o, k, s, p);
	u->kind = k == 7 ? CXR_PROF_CONV7 : k == 3 ? CXR_PROF_CONV3
		: s == 1 ? CXR_PROF_CONV1 : CXR_PROF_CONV1S2;
	size_t nw = (size_t)o * k * k * c;
	u->w = net->nparams, net->nparams += nw;
	snprintf(name, sizeof name, "%s.weight", conv);
	add_tensor(net, name, R_CONV, u->w, 4, o, c, k, k);
	u->gamma = net->nparams, net->nparams += o;
	snprintf(name, sizeof name, "%s.weight", bn);
	add_tensor(net, name, R_BN_W, u->gamma, 1, o, 0, 0, 0);
	u->beta = net->nparams, net->nparams += o;
	snprintf(name, sizeof name, "%s.bias", bn);
	add_tensor(net, name, R_BN_B, u->beta, 1, o, 0, 0, 0);
	u->rmean = net->nbuffers, net->nbuffers += o;
	snprintf(name, sizeof name, "%s.running_mean", bn);
	add_tensor(net, name, R_RMEAN, u->rmean, 1, o, 0, 0, 0);
	u->rvar = net->nbuffers, net->nbuffers += o;
	snprintf(name, sizeof name, "%s.running_var", bn);
	add_tensor(net, name, R_RVAR, u->rvar, 1, o, 0, 0, 0);
	u->fw = net->nfold, net->nfold += nw;
	u->fb = net->nfold, net->nfold += o;
	u->wino = k == 3 && s == 1 && p == 1;
	if (u->wino) {
		u->uf = net->nwfold;
		net->nwfold += (cxr_wino_weights_size(c, o) + 15) & ~(size_t)15;
		if (nw > net->wtmp_w)
			net->wtmp_w = nw;
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

/* Arena offsets are rounded to 64 bytes. */
static size_t take(size_t *top, size_t n)
{
	size_t o = *top;
	*top += (n + 15) & ~(size_t)15;
	return o;
}

static void layout(cxr_resnet *net)
{
	const size_t N = (size_t)net->max_batch, hid = (size_t)net->cfg.head_hidden;
	size_t top = 0, big = (size_t)net->ph * net->pw * net->stem.d.o * N;
	for (int i = 0; i < net->nunits; i++)
		if (unit_out(net->units[i]) > big)
			big = unit_out(net->units[i]);
	net->maxact = big;
	net->x_in = take(&top, N * net->cfg.height * net->cfg.width * net->cfg.in_channels);
	for (int i = 0; i < 4; i++)
		net->g[i] = take(&top, big);
	net->feat_o = take(&top, N * net->feat);
	net->hid = take(&top, N * hid);
	net->logits = take(&top, N);
	net->eval_size = top;

	unit *s = &net->stem;
	for (int i = 0; i < net->nunits; i++) {
		unit *u = net->units[i];
		u->x = take(&top, unit_out(u));
		u->mean = take(&top, u->d.o);
		u->istd = take(&top, u->d.o);
		u->a = NONE;
	}
	s->a = take(&top, unit_out(s));
	net->pool_o = take(&top, big = (size_t)net->ph * net->pw * s->d.o * N);
	net->pool_idx = take(&top, big);
	for (int i = 0; i < net->nblocks; i++) {
		block *b = &net->b[i];
		b->c1.a = take(&top, unit_out(&b->c1));
		b->c2.a = take(&top, unit_out(&b->c2));
		b->out = take(&top, unit_out(&b->c3));
	}
	net->gidx = take(&top, N * net->feat);
	net->dfeat = take(&top, N * net->feat);
	net->hr = take(&top, N * hid);
	net->mask = take(&top, N * hid);
	net->hd = take(&top, N * hid);
	net->dhd = take(&top, N * hid);
	net->dhr = take(&top, N * hid);
	net->dh = take(&top, N * hid);
	net->train_size = top;
}

void cxr_resnet_default_config(cxr_resnet_config *cfg)
{
	cfg->width_mult = 1.0;
	cfg->in_channels = 1;
	cfg->height = 256;
	cfg->width = 256;
	cfg->head_hidden = 512;
	cfg->dropout = 0.2;
}

cxr_resnet *cxr_resnet_create(const cxr_resnet_config *cfg, int max_batch)
{
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
	net->t = cxr_xcalloc(6 * MAXUNITS + 8, sizeof *net->t);
	net->role = cxr_xcalloc(6 * MAXUNITS + 8, sizeof *net->role);
	const double W = cfg->width_mult;

	int c = scaled(64, W);
	make_unit(net, &net->stem, "conv1", "bn1", cfg->height, cfg->width, cfg->in_channels, c,
		  7, 2, 3);
	int h = net->stem.d.oh, w = net->stem.d.ow;
	net->ph = h = pool_out_size(h, 3, 2, 1);
	net->pw = w = pool_out_size(w, 3, 2, 1);
	for (int st = 0; st < NSTAGES; st++) {
		int planes = 64 << st;
		for (int j = 0; j < stage_blocks[st]; j++) {
			block *b = &net->b[net->nblocks++];
			int s = j == 0 && st > 0 ? 2 : 1;
			int mid = scaled(planes, W), out = scaled(4 * planes, W);
			char cn[64], bn[64], pre[32];
			snprintf(pre, sizeof pre, "layer%d.%d", st + 1, j);
			for (int k = 1; k <= 3; k++) {
				unit *u = k == 1 ? &b->c1 : k == 2 ? &b->c2 : &b->c3;
				snprintf(cn, sizeof cn, "%s.conv%d", pre, k);
				snprintf(bn, sizeof bn, "%s.bn%d", pre, k);
				if (k == 1)
					make_unit(net, u, cn, bn, h, w, c, mid, 1, 1, 0);
				else if (k == 2)
					make_unit(net, u, cn, bn, h, w, mid, mid, 3, s, 1);
				else
					make_unit(net, u, cn, bn, b->c2.d.oh, b->c2.d.ow, mid, out,
						  1, 1, 0);
			}
			b->has_ds = s != 1 || c != out;
			if (b->has_ds) {
				snprintf(cn, sizeof cn, "%s.downsample.0", pre);
				snprintf(bn, sizeof bn, "%s.downsample.1", pre);
				make_unit(net, &b->ds, cn, bn, h, w, c, out, 1, s, 0);
			}
			h = b->c2.d.oh, w = b->c2.d.ow, c = out;
		}
	}
	net->feat = c, net->fh = h, net->fw = w;
	const int hid = cfg->head_hidden;
	net->fc1_w = net->nparams, net->nparams += (size_t)hid * c;
	add_tensor(net, "fc1.weight", R_FC_W, net->fc1_w, 2, hid, c, 0, 0);
	net->fc1_b = net->nparams, net->nparams += hid;
	add_tensor(net, "fc1.bias", R_FC_B, net->fc1_b, 1, hid, 0, 0, 0);
	net->fc2_w = net->nparams, net->nparams += hid;
	add_tensor(net, "fc2.weight", R_FC_W, net->fc2_w, 2, 1, hid, 0, 0);
	net->fc2_b = net->nparams, net->nparams += 1;
	add_tensor(net, "fc2.bias", R_FC_B, net->fc2_b, 1, 1, 0, 0, 0);

	layout(net);
	for (int i = 0; i < net->nunits; i++) {
		const conv_dims *d = &net->units[i]->d;
		size_t ws = conv_workspace(d);
		if (net->units[i]->wino) {
			size_t w2 = cxr_wino_workspace_size(d->n, d->h, d->w, d->c, d->o);
			ws = w2 > ws ? w2 : ws;
		}
		if (ws > net->ws_size)
			net->ws_size = ws;
	}
	net->wino_on = 1;
	net->params = calloc(net->nparams, sizeof(float));
	net->grads = calloc(net->nparams, sizeof(float));
	net->buffers = calloc(net->nbuffers, sizeof(float));
	net->dlogits = calloc(max_batch, sizeof(float));
	net->ws = malloc((net->ws_size + 16) * sizeof(float));
	net->wtmp = malloc((net->wtmp_w + net->wtmp_size + 32) * sizeof(float));
	if (!net->params || !net->grads || !net->buffers || !net->dlogits || !net->ws ||
	    !net->wtmp) {
		cxr_seterr("out of memory for a network of %zu parameters", net->nparams);
		cxr_resnet_free(net);
		return NULL;
	}
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
	free(net->params);
	free(net->grads);
	free(net->buffers);
	free(net->fold);
	free(net->dlogits);
	free(net->act);
	free(net->ws);
	free(net->wtmp);
	free(net->wfold);
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

void cxr_resnet_set_fold(cxr_resnet *net, int fold)
{
	net->fold_on = fold;
}

void cxr_resnet_set_winograd(cxr_resnet *net, int on)
{
	net->wino_on = on;
}

void cxr_resnet_set_threads(int n)
{
	cxr_par_set_threads(n);
}

void cxr_resnet_zero_grads(cxr_resnet *net)
{
	memset(net->grads, 0, net->nparams * sizeof(float));
}

void cxr_resnet_init(cxr_resnet *net, uint64_t seed)
{
	cxr_rng r;
	cxr_rng_seed(&r, seed);
	double bound = 0;
	for (int i = 0; i < net->nt; i++) {
		const cxr_resnet_tensor *t = &net->t[i];
		float *p = (t->trainable ? net->params : net->buffers) + t->offset;
		switch (net->role[i]) {
		case R_CONV: {
			/* kaiming_normal_(mode="fan_out", nonlinearity="relu") */
			double std = sqrt(2.0 / (double)(t->dims[0] * t->dims[2] * t->dims[3]));
			for (size_t k = 0; k < t->numel; k++)
				p[k] = (float)(std * cxr_rng_normal(&r));
			break;
		}
		case R_BN_W:
		case R_RVAR:
			for (size_t k = 0; k < t->numel; k++)
				p[k] = 1;
			break;
		case R_BN_B:
		case R_RMEAN:
			memset(p, 0, t->numel * sizeof *p);
			break;
		case R_FC_W: /* nn.Linear: kaiming_uniform_(a=sqrt(5)), bias alike */
			bound = 1 / sqrt((double)t->dims[1]);
			/* fall through */
		case R_FC_B:
			for (size_t k = 0; k < t->numel; k++)
				p[k] = (float)(bound * (2 * cxr_rng_uniform(&r) - 1));
			break;
		}
	}
	cxr_rng_seed(&net->rng, seed ^ 0x6a09e667f3bcc908ull);
	cxr_resnet_params_changed(net);
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
		f += train ? (u == &net->stem ? 2 : 3) * k : k;
	}
	double head = 2.0 * net->feat * net->cfg.head_hidden + 2.0 * net->cfg.head_hidden;
	return f + (train ? 3 : 1) * head;
}

/* ---- forward and backward ---- */

static void zero(float *p, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i += 16384)
		memset(p + i, 0, (n - i < 16384 ? n - i : 16384) * sizeof *p);
}

static conv_dims at_batch(const unit *u, int n)
{
	conv_dims d = u->d;
	d.n = n;
	return d;
}

/* dst (O,C,3,3) = src (O,3,3,C) */
static void to_oc33(float *dst, const float *src, int o, int c)
{
	for (int j = 0; j < o; j++)
		for (int k = 0; k < 9; k++)
			for (int i = 0; i < c; i++)
				dst[((size_t)j * c + i) * 9 + k] = src[((size_t)j * 9 + k) * c + i];
}

/* dst (O,3,3,C) += src (O,C,3,3) */
static void add_from_oc33(float *dst, const float *src, int o, int c)
{
	for (int j = 0; j < o; j++)
		for (int k = 0; k < 9; k++)
			for (int i = 0; i < c; i++)
				dst[((size_t)j * 9 + k) * c + i] += src[((size_t)j * c + i) * 9 + k];
}

static int use_wino(const cxr_resnet *net, const unit *u)
{
	return u->wino && net->wino_on;
}

/* out (N,OH,OW,O) = conv(in) with weight w (O,KH,KW,C) [+ out if accum]:
 * Winograd where it applies, else im2col + sgemm. */
static void unit_conv(cxr_resnet *net, const unit *u, float *out, const float *in,
		      const float *w, int accum, int n)
{
	conv_dims d = at_batch(u, n);
	if (use_wino(net, u)) {
		float *U = net->wtmp + net->wtmp_w;
		to_oc33(net->wtmp, w, d.o, d.c);
		cxr_wino_transform_weights(U, net->wtmp, d.c, d.o);
		cxr_wino_forward(out, in, U, n, d.h, d.w, d.c, d.o, net->ws, accum);
	} else {
		conv_forward(out, in, w, NULL, &d, net->ws, accum ? CONV_ACCUM : 0);
	}
}

/* out = [relu](bn(conv(in)) [+ res]) in training mode. */
static void unit_train(cxr_resnet *net, unit *u, const float *in, float *out, const float *res,
		       int relu, int n)
{
	float *A = net->act, *P = net->params, *B = net->buffers;
	conv_dims d = at_batch(u, n);
	size_t m = (size_t)n * d.oh * d.ow;
	TIMED(net, u->kind, 0, conv_flops(&d), unit_conv(net, u, A + u->x, in, P + u->w, 0, n));
	TIMED(net, CXR_PROF_BN, 0, 0,
	      bn_forward_train(out, A + u->mean, A + u->istd, B + u->rmean, B + u->rvar, A + u->x,
			       P + u->gamma, P + u->beta, res, relu, m, d.o, BN_MOMENTUM, BN_EPS));
}

/* din += d(unit)/din (acc 1; acc 0: din = ...) given dout, the gradient
 * of the unit's output. relu: the unit ended in a ReLU, whose mask comes
 * from out, the unit's output, or when NULL (no residual) from its input.
 * T: scratch of the conv output's size. */
static void unit_backward(cxr_resnet *net, unit *u, float *din, int acc, const float *in,
			  const float *dout, const float *out, int relu, float *T, int n)
{
	float *A = net->act, *P = net->params, *G = net->grads;
	conv_dims d = at_batch(u, n);
	size_t m = (size_t)n * d.oh * d.ow;
	TIMED(net, CXR_PROF_BN, 1, 0,
	      bn_backward(T, G + u->gamma, G + u->beta, dout, out, A + u->x, A + u->mean,
			  A + u->istd, P + u->gamma, P + u->beta, relu, m, d.o, 0));
	if (!use_wino(net, u)) {
		TIMED(net, u->kind, 1, (din ? 2 : 1) * conv_flops(&d),
		      conv_backward(din, G + u->w, T, in, P + u->w, &d, net->ws, acc));
		return;
	}
	TIMED(net, u->kind, 1, (din ? 2 : 1) * conv_flops(&d), {
		/* dW in PyTorch's layout, then added into ours */
		float *dw = net->wtmp, *U = net->wtmp + net->wtmp_w;
		memset(dw, 0, (size_t)d.o * 9 * d.c * sizeof *dw);
		cxr_wino_backward_weights(dw, in, T, n, d.h, d.w, d.c, d.o, net->ws);
		add_from_oc33(G + u->w, dw, d.o, d.c);
		if (din) {
			/* din += conv with the rotated, transposed kernel */
			to_oc33(dw, P + u->w, d.o, d.c);
			cxr_wino_transform_weights_backward(U, dw, d.c, d.o);
			cxr_wino_forward(din, T, U, n, d.h, d.w, d.o, d.c, net->ws, acc);
		}
	});
}

static void forward_train(cxr_resnet *net, int n)
{
	float *A = net->act, *P = net->params;
	const int hid = net->cfg.head_hidden;
	unit *s = &net->stem;
	unit_train(net, s, A + net->x_in, A + s->a, NULL, 1, n);
	TIMED(net, CXR_PROF_POOL, 0, 0,
	      maxpool_forward(A + net->pool_o, (int32_t *)(A + net->pool_idx), A + s->a, n,
			      s->d.oh, s->d.ow, s->d.o, 3, 2, 1));
	const float *in = A + net->pool_o;
	for (int i = 0; i < net->nblocks; i++) {
		block *b = &net->b[i];
		float *out = A + b->out;
		unit_train(net, &b->c1, in, A + b->c1.a, NULL, 1, n);
		unit_train(net, &b->c2, A + b->c1.a, A + b->c2.a, NULL, 1, n);
		if (b->has_ds)
			unit_train(net, &b->ds, in, out, NULL, 0, n);
		unit_train(net, &b->c3, A + b->c2.a, out, b->has_ds ? out : in, 1, n);
		in = out;
	}
	const size_t nh = (size_t)n * hid;
	TIMED(net, CXR_PROF_HEAD, 0, 0, {
		gmaxpool_forward(A + net->feat_o, (int32_t *)(A + net->gidx), in, n,
				 net->fh * net->fw, net->feat);
		dense_forward(A + net->hid, A + net->feat_o, P + net->fc1_w, P + net->fc1_b, n,
			      net->feat, hid);
		relu_forward(A + net->hr, A + net->hid, nh);
		if (!net->mask_given)
			dropout_mask(A + net->mask, nh, (float)net->cfg.dropout, &net->rng);
		net->mask_given = 0;
		dropout_forward(A + net->hd, A + net->hr, A + net->mask, nh);
		dense_forward(A + net->logits, A + net->hd, P + net->fc2_w, P + net->fc2_b, n, hid,
			      1);
	});
}

int cxr_resnet_backward(cxr_resnet *net)
{
	const int n = net->last_n, hid = net->cfg.head_hidden;
	if (!net->last_train || n < 1) {
		cxr_seterr("backward without a training forward pass before it");
		return -1;
	}
	float *A = net->act, *P = net->params, *G = net->grads;
	const size_t nh = (size_t)n * hid;
	/* rotating gradient buffers: dy (a block's output), dx (its input),
	 * T and U scratch */
	float *dy = A + net->g[0], *dx = A + net->g[1], *T = A + net->g[2], *U = A + net->g[3];
	TIMED(net, CXR_PROF_HEAD, 1, 0, {
		zero(A + net->dhd, nh);
		dense_backward(A + net->dhd, G + net->fc2_w, G + net->fc2_b, net->dlogits,
			       A + net->hd, P + net->fc2_w, n, hid, 1);
		zero(A + net->dhr, nh);
		dropout_backward(A + net->dhr, A + net->dhd, A + net->mask, nh);
		relu_backward(A + net->dh, A + net->dhr, A + net->hr, nh, 0);
		zero(A + net->dfeat, (size_t)n * net->feat);
		dense_backward(A + net->dfeat, G + net->fc1_w, G + net->fc1_b, A + net->dh,
			       A + net->feat_o, P + net->fc1_w, n, net->feat, hid);
		zero(dy, (size_t)n * net->fh * net->fw * net->feat);
		gmaxpool_backward(dy, A + net->dfeat, (const int32_t *)(A + net->gidx), n,
				  net->fh * net->fw, net->feat);
	});
	for (int i = net->nblocks - 1; i >= 0; i--) {
		block *b = &net->b[i];
		const float *in = i ? A + net->b[i - 1].out : A + net->pool_o;
		const float *out = A + b->out;
		size_t nin = (size_t)n * b->c1.d.h * b->c1.d.w * b->c1.d.c;
		/* the shortcut writes dx first, conv1 adds to it */
		if (b->has_ds)
			unit_backward(net, &b->ds, dx, 0, in, dy, out, 1, T, n);
		else
			TIMED(net, CXR_PROF_BN, 1, 0, relu_backward(dx, dy, out, nin, 0));
		unit_backward(net, &b->c3, U, 0, A + b->c2.a, dy, out, 1, T, n);
		/* dy is spent: it takes the gradient of c1's output */
		unit_backward(net, &b->c2, dy, 0, A + b->c1.a, U, NULL, 1, T, n);
		unit_backward(net, &b->c1, dx, 1, in, dy, NULL, 1, T, n);
		float *t = dy;
		dy = dx, dx = t;
	}
	unit *s = &net->stem;
	TIMED(net, CXR_PROF_OTHER, 1, 0, zero(U, (size_t)n * s->d.oh * s->d.ow * s->d.o));
	TIMED(net, CXR_PROF_POOL, 1, 0,
	      maxpool_backward(U, dy, (const int32_t *)(A + net->pool_idx), n, s->d.oh, s->d.ow,
			       s->d.o, net->ph, net->pw));
	unit_backward(net, s, NULL, 0, A + net->x_in, U, NULL, 1, T, n);
	return 0;
}

static void fold_weights(cxr_resnet *net)
{
	float *P = net->params, *B = net->buffers, *F = net->fold;
	for (int i = 0; i < net->nunits; i++) {
		const unit *u = net->units[i];
		const int o = u->d.o;
		const size_t k = (size_t)u->d.kh * u->d.kw * u->d.c;
		float *scale = cxr_xmalloc(o * sizeof *scale);
		bn_fold(scale, F + u->fb, P + u->gamma, P + u->beta, B + u->rmean, B + u->rvar, o,
			BN_EPS);
		for (int j = 0; j < o; j++)
			for (size_t q = 0; q < k; q++)
				F[u->fw + j * k + q] = P[u->w + j * k + q] * scale[j];
		free(scale);
		if (u->wino && net->wfold) {
			to_oc33(net->wtmp, F + u->fw, o, u->d.c);
			cxr_wino_transform_weights(net->wfold + u->uf, net->wtmp, u->d.c, o);
		}
	}
	net->fold_valid = 1;
}

/* out = [relu](conv(in) + bias [+ out]) with BN folded in. */
static void unit_folded(cxr_resnet *net, const unit *u, float *out, const float *in, int flags,
			int n)
{
	conv_dims d = at_batch(u, n);
	if (!use_wino(net, u) || !net->wfold) {
		TIMED(net, u->kind, 0, conv_flops(&d),
		      conv_forward(out, in, net->fold + u->fw, net->fold + u->fb, &d, net->ws,
				   flags));
		return;
	}
	TIMED(net, u->kind, 0, conv_flops(&d), {
		cxr_wino_forward(out, in, net->wfold + u->uf, n, d.h, d.w, d.c, d.o, net->ws,
				 flags & CONV_ACCUM);
		conv_bias_relu(out, net->fold + u->fb, flags & CONV_RELU,
			       (size_t)n * d.oh * d.ow, d.o);
	});
}

/* out = [relu](bn(conv(in)) [+ res]), unfolded; tmp: conv output. */
static void unit_eval(cxr_resnet *net, const unit *u, float *out, float *tmp, const float *in,
		      const float *res, int relu, int n)
{
	float *P = net->params, *B = net->buffers;
	conv_dims d = at_batch(u, n);
	TIMED(net, u->kind, 0, conv_flops(&d), unit_conv(net, u, tmp, in, P + u->w, 0, n));
	TIMED(net, CXR_PROF_BN, 0, 0,
	      bn_forward_eval(out, tmp, P + u->gamma, P + u->beta, B + u->rmean, B + u->rvar, res,
			      relu, (size_t)n * d.oh * d.ow, d.o, BN_EPS));
}

static void forward_eval(cxr_resnet *net, int n)
{
	float *A = net->act, *P = net->params;
	float *R[4];
	for (int i = 0; i < 4; i++)
		R[i] = A + net->g[i];
	const int fold = net->fold_on;
	unit *s = &net->stem;
	if (fold)
		unit_folded(net, s, R[0], A + net->x_in, CONV_RELU, n);
	else
		unit_eval(net, s, R[0], R[0], A + net->x_in, NULL, 1, n);
	TIMED(net, CXR_PROF_POOL, 0, 0,
	      maxpool_forward(R[1], NULL, R[0], n, s->d.oh, s->d.ow, s->d.o, 3, 2, 1));
	int cur = 1;
	for (int i = 0; i < net->nblocks; i++) {
		block *b = &net->b[i];
		int f0 = (cur + 1) & 3, f1 = (cur + 2) & 3, f2 = (cur + 3) & 3;
		int dst = b->has_ds ? f2 : cur;
		if (fold) {
			unit_folded(net, &b->c1, R[f0], R[cur], CONV_RELU, n);
			unit_folded(net, &b->c2, R[f1], R[f0], CONV_RELU, n);
			if (b->has_ds)
				unit_folded(net, &b->ds, R[f2], R[cur], 0, n);
			unit_folded(net, &b->c3, R[dst], R[f1], CONV_ACCUM | CONV_RELU, n);
		} else {
			unit_eval(net, &b->c1, R[f0], R[f0], R[cur], NULL, 1, n);
			unit_eval(net, &b->c2, R[f1], R[f1], R[f0], NULL, 1, n);
			if (b->has_ds)
				unit_eval(net, &b->ds, R[f2], R[f2], R[cur], NULL, 0, n);
			unit_eval(net, &b->c3, R[dst], R[f0], R[f1], R[dst], 1, n);
		}
		cur = dst;
	}
	TIMED(net, CXR_PROF_HEAD, 0, 0, {
		gmaxpool_forward(A + net->feat_o, NULL, R[cur], n, net->fh * net->fw, net->feat);
		dense_forward(A + net->hid, A + net->feat_o, P + net->fc1_w, P + net->fc1_b, n,
			      net->feat, net->cfg.head_hidden);
		relu_forward(A + net->hid, A + net->hid, (size_t)n * net->cfg.head_hidden);
		dense_forward(A + net->logits, A + net->hid, P + net->fc2_w, P + net->fc2_b, n,
			      net->cfg.head_hidden, 1);
	});
}

/* The arena at the size a pass in this mode needs. */
static int arena(cxr_resnet *net, int train)
{
	size_t need = train ? net->train_size : net->eval_size;
	if (net->act_size >= need)
		return 0;
	free(net->act);
	net->act_size = 0;
	net->act = malloc(need * sizeof(float));
	if (!net->act) {
		cxr_seterr("out of memory for the activations of a batch of %d (%.1f GB)",
			   net->max_batch, need * 4e-9);
		return -1;
	}
	net->act_size = need;
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
	if (!train && net->fold_on && !net->fold_valid) {
		if (!net->fold && !(net->fold = malloc(net->nfold * sizeof(float)))) {
			cxr_seterr("out of memory for folded weights");
			return NULL;
		}
		if (net->wino_on && net->nwfold && !net->wfold &&
		    !(net->wfold = malloc(net->nwfold * sizeof(float)))) {
			cxr_seterr("out of memory for transformed weights");
			return NULL;
		}
		fold_weights(net);
	}
	/* the input (N,C,H,W) as (N,H,W,C) */
	const int C = net->cfg.in_channels;
	const size_t hw = (size_t)net->cfg.height * net->cfg.width;
	float *xin = net->act + net->x_in;
	if (C == 1)
		memcpy(xin, x, (size_t)n * hw * sizeof *x);
	else
		for (int b = 0; b < n; b++)
			for (size_t p = 0; p < hw; p++)
				for (int c = 0; c < C; c++)
					xin[((size_t)b * hw + p) * C + c] =
						x[((size_t)b * C + c) * hw + p];
	if (train) {
		forward_train(net, n);
		net->fold_valid = 0;
	} else {
		forward_eval(net, n);
	}
	net->last_n = n;
	net->last_train = train;
	return net->act + net->logits;
}

int cxr_resnet_set_dropout_mask(cxr_resnet *net, const float *mask, int n)
{
	if (n < 1 || n > net->max_batch) {
		cxr_seterr("dropout mask of %d rows, network made for 1 to %d", n, net->max_batch);
		return -1;
	}
	if (arena(net, 1))
		return -1;
	memcpy(net->act + net->mask, mask, (size_t)n * net->cfg.head_hidden * sizeof *mask);
	net->mask_given = 1;
	return 0;
}

float cxr_resnet_loss(cxr_resnet *net, const float *targets)
{
	if (net->last_n < 1)
		return NAN;
	return (float)bce_logits(net->dlogits, net->act + net->logits, targets, net->last_n);
}

/* ---- PyTorch layout ---- */

void cxr_resnet_tensor_export(const cxr_resnet_tensor *t, float *dst, const float *flat)
{
	const float *src = flat + t->offset;
	if (!t->is_conv) {
		memcpy(dst, src, t->numel * sizeof *dst);
		return;
	}
	/* (O,KH,KW,C) -> (O,C,KH,KW) */
	const int64_t O = t->dims[0], C = t->dims[1], KK = t->dims[2] * t->dims[3];
	for (int64_t o = 0; o < O; o++)
		for (int64_t c = 0; c < C; c++)
			for (int64_t k = 0; k < KK; k++)
				dst[(o * C + c) * KK + k] = src[(o * KK + k) * C + c];
}

void cxr_resnet_tensor_import(const cxr_resnet_tensor *t, float *flat, const float *src)
{
	float *dst = flat + t->offset;
	if (!t->is_conv) {
		memcpy(dst, src, t->numel * sizeof *dst);
		return;
	}
	const int64_t O = t->dims[0], C = t->dims[1], KK = t->dims[2] * t->dims[3];
	for (int64_t o = 0; o < O; o++)
		for (int64_t c = 0; c < C; c++)
			for (int64_t k = 0; k < KK; k++)
				dst[(o * KK + k) * C + c] = src[(o * C + c) * KK + k];
}
