/* keras_golden — runs lib/resnet's keras-resnet50 on a golden file of
 * tests/golden/make_keras_golden.py (PyTorch's twin, bench/keras_twin.py)
 * and measures, tensor by tensor, the normwise relative error
 * ||a - b||2 / ||b||2 (resnet_golden.h's golden_err): the train forward's
 * logits and loss, every parameter gradient, the BN running statistics
 * after that forward, and the eval forward with batch norm folded and not;
 * plus the largest absolute and relative element errors of the logits,
 * loss and eval logits.
 *
 * One rule differs from resnet_golden.h's golden_run: a convolution's
 * bias gradient (NAME_conv.bias) is analytically 0, since a training-mode
 * batch norm follows and subtracts the batch mean, so both PyTorch's and
 * the engine's are rounding noise and their relative error means nothing.
 * Their difference is held to the gradient bound relative to the norm of
 * the unit's BN bias gradient (NAME_bn.bias), the scale of the gradient
 * that reaches the convolution. The optimizer step, which knows no
 * architecture, is left to resnet_golden.h. */
#ifndef CXR_KERAS_GOLDEN_H
#define CXR_KERAS_GOLDEN_H
#include "resnet_golden.h"

/* resnet_golden.h's own runner (torchvision's goldens, with an Adam
 * step) is not used here; this keeps -Wunused-function quiet. */
static inline void keras_golden_unused(void)
{
	(void)golden_run;
}

typedef struct keras_golden_report {
	golden_report g;        /* logits, loss, eval_*, grad, stats (normwise) */
	double bias;            /* worst conv bias gradient difference / BN bias gradient norm */
	char bias_name[128];
	double abs_logits, rel_logits; /* max |a-b|, max |a-b|/|b| over train and eval logits */
	double abs_loss;
} keras_golden_report;

/* The largest |a-b| and |a-b|/|b| of n values into *abs and *rel. */
static void keras_max_err(const float *a, const float *b, size_t n, double *abs, double *rel)
{
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (d > *abs)
			*abs = d;
		if (b[i] != 0 && d / fabs(b[i]) > *rel)
			*rel = d / fabs(b[i]);
	}
}

/* -1 with cxr_errmsg() set when the file cannot be used. */
static int keras_golden_run(const char *path, int wino, const golden_tol *tol, FILE *out,
			    keras_golden_report *kr)
{
	memset(kr, 0, sizeof *kr);
	golden_report *r = &kr->g;
	cxr_model *m = cxr_model_load(path);
	if (!m)
		return -1;
	int rc = -1;
	cxr_resnet *net = NULL;
	float *buf = NULL;
	const cxr_tensor *in = cxr_model_find(m, "input");
	if (!in || in->ndim != 4) {
		cxr_seterr("%s: no input [N,C,H,W]", path);
		goto done;
	}
	const int n = (int)in->dims[0];
	if (!(net = cxr_resnet_from_model(m, n)))
		goto done;
	if (cxr_resnet_get_config(net)->arch != CXR_ARCH_KERAS) {
		cxr_seterr("%s: not a keras-resnet50 golden", path);
		goto done;
	}
	cxr_resnet_set_winograd(net, wino);
	const int hid = cxr_resnet_get_config(net)->head_hidden;
	const float *mask = golden_find(m, "dropout_mask", (size_t)n * hid);
	const float *target = golden_find(m, "target", n);
	const float *logits = golden_find(m, "logits", n);
	const float *loss = golden_find(m, "loss", 1);
	const float *eval_logits = golden_find(m, "eval_logits", n);
	if (!mask || !target || !logits || !loss || !eval_logits)
		goto done;

	if (cxr_resnet_set_dropout_mask(net, mask, n))
		goto done;
	const float *y = cxr_resnet_forward(net, in->data, n, 1);
	if (!y)
		goto done;
	r->logits = golden_err(y, logits, n);
	keras_max_err(y, logits, n, &kr->abs_logits, &kr->rel_logits);
	golden_note(r, out, "logits", r->logits, tol->logits, NULL, NULL);
	float l = cxr_resnet_loss(net, target);
	r->loss = golden_err(&l, loss, 1);
	kr->abs_loss = fabs((double)l - loss[0]);
	golden_note(r, out, "loss", r->loss, tol->loss, NULL, NULL);
	cxr_resnet_zero_grads(net);
	if (cxr_resnet_backward(net))
		goto done;

	size_t big = 0;
	for (int i = 0; i < cxr_resnet_ntensors(net); i++)
		if (cxr_resnet_tensor_at(net, i)->numel > big)
			big = cxr_resnet_tensor_at(net, i)->numel;
	buf = cxr_xmalloc(big * sizeof *buf);
	char name[160], bn[160];
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		snprintf(name, sizeof name, "%s/%s", t->trainable ? "grad" : "after_train", t->name);
		const float *ref = golden_find(m, name, t->numel);
		if (!ref)
			goto done;
		cxr_resnet_tensor_export(t, buf, t->trainable ? cxr_resnet_grads(net)
							       : cxr_resnet_buffers(net));
		if (t->kind == CXR_TK_CONV_B) {
			/* NAME_conv/bias -> NAME_bn/bias */
			size_t k = strlen(name) - strlen("_conv.bias");
			snprintf(bn, sizeof bn, "%.*s_bn.bias", (int)k, name);
			const float *beta = golden_find(m, bn, t->numel);
			if (!beta)
				goto done;
			double d = 0, s = 0;
			for (size_t q = 0; q < t->numel; q++) {
				d += ((double)buf[q] - ref[q]) * ((double)buf[q] - ref[q]);
				s += (double)beta[q] * beta[q];
			}
			double e = s > 0 ? sqrt(d / s) : sqrt(d);
			golden_note(r, out, name, e, tol->grad, &kr->bias, kr->bias_name);
		} else if (t->trainable) {
			golden_note(r, out, name, golden_err(buf, ref, t->numel), tol->grad, &r->grad,
				    r->grad_name);
		} else {
			golden_note(r, out, name, golden_err(buf, ref, t->numel), tol->stats,
				    &r->stats, r->stats_name);
		}
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
	if (!(y = cxr_resnet_forward(net, in->data, n, 0)))
		goto done;
	r->eval_logits = golden_err(y, eval_logits, n);
	keras_max_err(y, eval_logits, n, &kr->abs_logits, &kr->rel_logits);
	golden_note(r, out, "eval_logits (batch norm folded)", r->eval_logits, tol->eval, NULL,
		    NULL);
	cxr_resnet_set_fold(net, 0);
	if (!(y = cxr_resnet_forward(net, in->data, n, 0)))
		goto done;
	r->eval_unfolded = golden_err(y, eval_logits, n);
	keras_max_err(y, eval_logits, n, &kr->abs_logits, &kr->rel_logits);
	golden_note(r, out, "eval_logits (batch norm apart)", r->eval_unfolded, tol->eval, NULL,
		    NULL);
	rc = 0;
done:
	free(buf);
	cxr_resnet_free(net);
	cxr_model_free(m);
	return rc;
}

#endif
