/* resnet_golden — runs lib/resnet on a golden file of either architecture,
 * torchvision's (tests/golden/make_golden.py) or Keras's
 * (tests/golden/make_keras_golden.py, on PyTorch's twin
 * bench/keras_twin.py), and measures, tensor by tensor, the normwise
 * relative error ||a - b||2 / ||b||2 against PyTorch: the train forward's
 * logits and loss (with the golden's dropout mask), every parameter
 * gradient, the BN running statistics after that forward, one Adam(W) step
 * (lib/optim, hyper-parameters from the golden's metadata), and the eval
 * forward (weights before the step, running statistics after the train
 * forward), with batch norm folded and not; plus the largest absolute and
 * relative element errors of the logits, loss and eval logits.
 *
 * A convolution's bias gradient (the Keras variant's NAME_conv.bias) is
 * analytically 0, since a training-mode batch norm follows and subtracts
 * the batch mean, so both PyTorch's and the engine's are rounding noise
 * and their relative error means nothing. Their difference is held to the
 * gradient bound relative to the norm of the unit's BN bias gradient
 * (NAME_bn.bias), the scale of the gradient that reaches the convolution.
 * The optimizer step, which knows no architecture, is compared by
 * golden_run (torchvision's goldens) and left out by golden_run_keras.
 *
 * Shared by tests/check_resnet.c, check_keras.c, check_bf16.c and
 * bench/resnet_check.c, keras_check.c. */
#ifndef CXR_RESNET_GOLDEN_H
#define CXR_RESNET_GOLDEN_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/model_file.h"
#include "nn/optim.h"
#include "nn/precision.h"
#include "nn/resnet.h"
#include "run/resnet_file.h"
#include "data/stream.h"

/* The precision golden_run runs the network in (nn/precision.h): bf16
 * runs are compared with the same float32 PyTorch results, to report
 * (and bound) what bf16 products cost. */
static int golden_precision = CXR_PREC_FP32;

typedef struct golden_tol {
	double logits, loss, grad, stats, adam, eval;
} golden_tol;

typedef struct golden_report {
	int failed;            /* comparisons above their bound */
	int compared;
	double logits, loss, eval_logits, eval_unfolded;
	double grad, stats, adam; /* the worst of each kind */
	char grad_name[128], stats_name[128], adam_name[128];
	double bias;           /* worst conv bias gradient difference / BN bias gradient norm */
	char bias_name[128];
	double abs_logits, rel_logits; /* max |a-b|, max |a-b|/|b| over train and eval logits */
	double abs_loss;
} golden_report;

static double golden_err(const float *a, const float *b, size_t n)
{
	double s = 0, t = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		s += d * d, t += (double)b[i] * b[i];
	}
	return t > 0 ? sqrt(s / t) : sqrt(s);
}

/* The largest |a-b| and |a-b|/|b| of n values into *abs and *rel. */
static void golden_max_err(const float *a, const float *b, size_t n, double *abs, double *rel)
{
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (d > *abs)
			*abs = d;
		if (b[i] != 0 && d / fabs(b[i]) > *rel)
			*rel = d / fabs(b[i]);
	}
}

/* Records one comparison; prints it when out is given (always when it
 * fails). */
static void golden_note(golden_report *r, FILE *out, const char *what, double e, double tol,
			double *worst, char *worst_name)
{
	int bad = !(e < tol);
	r->compared++;
	r->failed += bad;
	if (worst && (e > *worst || isnan(e))) {
		*worst = e;
		snprintf(worst_name, 128, "%s", what);
	}
	if (out || bad)
		fprintf(out ? out : stderr, "%-48s %10.3g %s\n", what, e, bad ? "FAIL" : "ok");
}

static const float *golden_find(const cxr_model *m, const char *name, size_t numel)
{
	const cxr_tensor *t = cxr_model_find(m, name);
	if (!t || t->dtype != CXR_F32 || t->nbytes != numel * sizeof(float)) {
		cxr_seterr("%s: golden tensor %s missing or of the wrong size",
			   cxr_model_path(m) ? cxr_model_path(m) : "golden", name);
		return NULL;
	}
	return t->data;
}

/* The grad/NAME_conv.bias comparison: the difference from PyTorch's, relative
 * to grad/NAME_bn.bias (see above); -1 with cxr_errmsg() set when the golden
 * has no such tensor. */
static int golden_conv_bias(const cxr_model *m, const char *name, const float *a, const float *ref,
			    size_t n, double *e)
{
	char bn[160];
	size_t k = strlen(name) - strlen("_conv.bias");
	snprintf(bn, sizeof bn, "%.*s_bn.bias", (int)k, name);
	const float *beta = golden_find(m, bn, n);
	if (!beta)
		return -1;
	double d = 0, s = 0;
	for (size_t q = 0; q < n; q++) {
		d += ((double)a[q] - ref[q]) * ((double)a[q] - ref[q]);
		s += (double)beta[q] * beta[q];
	}
	*e = s > 0 ? sqrt(d / s) : sqrt(d);
	return 0;
}

/* Runs the comparisons of golden file path, with the 3x3 convolutions by
 * Winograd or (wino 0) im2col; out (or NULL) gets one line per tensor.
 * arch: the CXR_ARCH_* the golden must hold, or -1 for any; adam: compare
 * the optimizer step too, when the golden has one. -1 with cxr_errmsg()
 * set when the file cannot be used. */
static int golden_compare(const char *path, int arch, int adam, int wino, const golden_tol *tol,
			  FILE *out, golden_report *r)
{
	memset(r, 0, sizeof *r);
	cxr_model *m = cxr_model_load(path);
	if (!m)
		return -1;
	int rc = -1;
	cxr_resnet *net = NULL;
	float *buf = NULL, *mom = NULL;
	const cxr_tensor *in = cxr_model_find(m, "input");
	if (!in || in->ndim != 4) {
		cxr_seterr("%s: no input [N,C,H,W]", path);
		goto done;
	}
	const int n = (int)in->dims[0];
	if (!(net = cxr_resnet_from_model(m, n)))
		goto done;
	if (arch >= 0 && cxr_resnet_get_config(net)->arch != arch) {
		cxr_seterr("%s: not a %s golden", path, cxr_resnet_arch_name(arch));
		goto done;
	}
	cxr_resnet_set_winograd(net, wino);
	if (cxr_resnet_set_precision(net, golden_precision))
		goto done;
	const int hid = cxr_resnet_get_config(net)->head_hidden;
	const float *mask = golden_find(m, "dropout_mask", (size_t)n * hid);
	const float *target = golden_find(m, "target", n);
	const float *logits = golden_find(m, "logits", n);
	const float *loss = golden_find(m, "loss", 1);
	const float *eval_logits = golden_find(m, "eval_logits", n);
	if (!mask || !target || !logits || !loss || !eval_logits)
		goto done;

	/* train forward and backward */
	if (cxr_resnet_set_dropout_mask(net, mask, n))
		goto done;
	const float *y = cxr_resnet_forward(net, in->data, n, 1);
	if (!y)
		goto done;
	r->logits = golden_err(y, logits, n);
	golden_max_err(y, logits, n, &r->abs_logits, &r->rel_logits);
	golden_note(r, out, "logits", r->logits, tol->logits, NULL, NULL);
	float l = cxr_resnet_loss(net, target);
	r->loss = golden_err(&l, loss, 1);
	r->abs_loss = fabs((double)l - loss[0]);
	golden_note(r, out, "loss", r->loss, tol->loss, NULL, NULL);
	cxr_resnet_zero_grads(net);
	if (cxr_resnet_backward(net))
		goto done;

	size_t np = cxr_resnet_num_params(net), big = 0;
	for (int i = 0; i < cxr_resnet_ntensors(net); i++)
		if (cxr_resnet_tensor_at(net, i)->numel > big)
			big = cxr_resnet_tensor_at(net, i)->numel;
	buf = cxr_xmalloc(big * sizeof *buf);
	char name[160];
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		snprintf(name, sizeof name, "%s/%s", t->trainable ? "grad" : "after_train", t->name);
		const float *ref = golden_find(m, name, t->numel);
		if (!ref)
			goto done;
		cxr_resnet_tensor_export(t, buf, t->trainable ? cxr_resnet_grads(net)
							       : cxr_resnet_buffers(net));
		double e = golden_err(buf, ref, t->numel);
		if (t->kind == CXR_TK_CONV_B) {
			if (golden_conv_bias(m, name, buf, ref, t->numel, &e))
				goto done;
			golden_note(r, out, name, e, tol->grad, &r->bias, r->bias_name);
		} else if (t->trainable) {
			golden_note(r, out, name, e, tol->grad, &r->grad, r->grad_name);
		} else {
			golden_note(r, out, name, e, tol->stats, &r->stats, r->stats_name);
		}
	}

	/* one optimizer step, when the golden has one */
	const char *opt = cxr_model_get_meta(m, "golden.optimizer");
	if (adam && opt && (!strcmp(opt, "adam") || !strcmp(opt, "adamw"))) {
		cxr_adam_cfg cfg = cxr_adam_defaults();
		const char *v;
		if ((v = cxr_model_get_meta(m, "golden.lr")))
			cfg.lr = atof(v);
		if ((v = cxr_model_get_meta(m, "golden.beta1")))
			cfg.beta1 = atof(v);
		if ((v = cxr_model_get_meta(m, "golden.beta2")))
			cfg.beta2 = atof(v);
		if ((v = cxr_model_get_meta(m, "golden.eps")))
			cfg.eps = atof(v);
		if ((v = cxr_model_get_meta(m, "golden.weight_decay")))
			cfg.weight_decay = atof(v);
		cfg.decoupled = !strcmp(opt, "adamw");
		/* The step is taken from PyTorch's own gradients, so that this
		 * compares the optimizer alone (the gradients were compared
		 * above): with Adam's first step near sign(g) * lr, gradients
		 * within 1e-3 of each other would move a weight whose gradient
		 * is near 0 by up to 2 lr the other way, which no tight bound
		 * survives. */
		mom = cxr_xcalloc(2 * np, sizeof *mom);
		float *p = cxr_xmalloc(np * sizeof *p), *gref = cxr_xmalloc(np * sizeof *gref);
		memcpy(p, cxr_resnet_params(net), np * sizeof *p);
		for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
			const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
			if (!t->trainable)
				continue;
			snprintf(name, sizeof name, "grad/%s", t->name);
			cxr_resnet_tensor_import(t, gref, golden_find(m, name, t->numel));
		}
		cxr_adam_step(p, gref, mom, mom + np, np, &cfg, 1);
		free(gref);
		for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
			const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
			if (!t->trainable)
				continue;
			snprintf(name, sizeof name, "adam/%s", t->name);
			const float *ref = golden_find(m, name, t->numel);
			if (!ref) {
				free(p);
				goto done;
			}
			cxr_resnet_tensor_export(t, buf, p);
			golden_note(r, out, name, golden_err(buf, ref, t->numel), tol->adam, &r->adam,
				    r->adam_name);
		}
		free(p);
	}

	/* eval forward: initial weights, running statistics after training */
	if (cxr_resnet_load_tensors(net, m))
		goto done;
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		if (t->trainable)
			continue;
		snprintf(name, sizeof name, "after_train/%s", t->name);
		cxr_resnet_tensor_import(t, cxr_resnet_buffers(net), golden_find(m, name, t->numel));
	}
	cxr_resnet_params_changed(net);
	for (int fold = 1; fold >= 0; fold--) {
		double *e = fold ? &r->eval_logits : &r->eval_unfolded;
		cxr_resnet_set_fold(net, fold);
		if (!(y = cxr_resnet_forward(net, in->data, n, 0)))
			goto done;
		*e = golden_err(y, eval_logits, n);
		golden_max_err(y, eval_logits, n, &r->abs_logits, &r->rel_logits);
		golden_note(r, out, fold ? "eval_logits (batch norm folded)"
					 : "eval_logits (batch norm apart)", *e, tol->eval, NULL, NULL);
	}
	rc = 0;
done:
	free(buf);
	free(mom);
	cxr_resnet_free(net);
	cxr_model_free(m);
	return rc;
}

/* A golden of either architecture, with the optimizer step. */
static inline int golden_run(const char *path, int wino, const golden_tol *tol, FILE *out,
			     golden_report *r)
{
	return golden_compare(path, -1, 1, wino, tol, out, r);
}

/* A keras-resnet50 golden, without the optimizer step. */
static inline int golden_run_keras(const char *path, int wino, const golden_tol *tol, FILE *out,
				   golden_report *r)
{
	return golden_compare(path, CXR_ARCH_KERAS, 0, wino, tol, out, r);
}

/* The command line bench/resnet_check.c and bench/keras_check.c share:
 * bounds of 1e-5, but -g TOL (1e-3) for gradients and the Adam step; -I
 * runs every convolution by im2col; -q prints summaries only; -j N. */
typedef struct golden_cli {
	golden_tol tol;
	int wino, quiet, threads;
} golden_cli;

static inline golden_cli golden_cli_defaults(void)
{
	return (golden_cli){{1e-5, 1e-5, 1e-3, 1e-5, 1e-3, 1e-5}, 1, 0, 0};
}

/* Takes getopt's option c (with arg) when it is one of the above; 0 when
 * it is not. */
static inline int golden_cli_option(golden_cli *o, int c, const char *arg)
{
	switch (c) {
	case 'I':
		o->wino = 0;
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case 'j':
		o->threads = (int)cxr_parse_long("-j", arg, 1, 1024);
		return 1;
	case 'g':
		o->tol.grad = o->tol.adam = cxr_parse_double("-g", arg, 0, 1);
		return 1;
	}
	return 0;
}

#endif
