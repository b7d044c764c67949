/* init — see init.h. */
#include "nn/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>

#include "base/rng.h"

static const char *const scheme_names[] = {
	[CXR_INIT_TORCHVISION] = "torchvision",
	[CXR_INIT_KERAS] = "keras",
	[CXR_INIT_TORCH] = "torch",
};
#define NSCHEMES (int)(sizeof scheme_names / sizeof *scheme_names)

const char *cxr_init_name(int scheme)
{
	return scheme >= 0 && scheme < NSCHEMES ? scheme_names[scheme] : "?";
}

int cxr_init_parse(const char *name)
{
	for (int i = 0; i < NSCHEMES; i++)
		if (!strcmp(name, scheme_names[i]))
			return i;
	return -1;
}

/* The weight a tensor's fans are counted on: itself, or for a bias the
 * convolution or dense weight before it in state_dict order. */
static const cxr_resnet_tensor *weight_of(const cxr_resnet *net, int i)
{
	for (int k = i; k >= 0; k--) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, k);
		if (t->kind == CXR_TK_CONV_W || t->kind == CXR_TK_FC_W)
			return t;
	}
	return NULL;
}

/* fan_in and fan_out as torch.nn.init._calculate_fan_in_and_fan_out and
 * Keras's _compute_fans count them: dims are PyTorch's (O,C,KH,KW) or
 * (out,in); the receptive field multiplies both. */
static void fans(const cxr_resnet_tensor *w, double *in, double *out)
{
	double rf = 1;
	for (int d = 2; d < w->ndim; d++)
		rf *= (double)w->dims[d];
	*in = (double)w->dims[1] * rf;
	*out = (double)w->dims[0] * rf;
}

static noreturn void unknown_kind(const cxr_resnet_tensor *t)
{
	fprintf(stderr, "init: tensor %s has kind %d, which no scheme knows\n", t->name, t->kind);
	abort();
}

void cxr_init_spec_of(const cxr_resnet *net, int i, int scheme, cxr_init_spec *s)
{
	const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
	memset(s, 0, sizeof *s);
	s->dist = CXR_DIST_CONST;
	switch (t->kind) {
	case CXR_TK_BN_W:
	case CXR_TK_BN_VAR:
		s->value = 1;
		return;
	case CXR_TK_BN_B:
	case CXR_TK_BN_MEAN:
		return;
	case CXR_TK_CONV_W:
	case CXR_TK_CONV_B:
	case CXR_TK_FC_W:
	case CXR_TK_FC_B:
		break;
	default:
		unknown_kind(t);
	}
	const cxr_resnet_tensor *w = weight_of(net, i);
	if (!w)
		unknown_kind(t);
	fans(w, &s->fan_in, &s->fan_out);
	const int bias = t->kind == CXR_TK_CONV_B || t->kind == CXR_TK_FC_B;
	const int conv = t->kind == CXR_TK_CONV_W || t->kind == CXR_TK_CONV_B;
	switch (scheme) {
	case CXR_INIT_TORCHVISION:
		if (conv && !bias) {
			/* kaiming_normal_(mode="fan_out", nonlinearity="relu"), as
			 * cxr has always computed it: sqrt(2/fan_out) (PyTorch's
			 * sqrt(2)/sqrt(fan_out) is within an ulp) */
			s->dist = CXR_DIST_NORMAL;
			s->value = sqrt(2.0 / s->fan_out);
		} else if (!conv) {
			/* nn.Linear's defaults, weight and bias U(+-1/sqrt(fan_in)) */
			s->dist = CXR_DIST_UNIFORM;
			s->value = 1 / sqrt(s->fan_in);
		} /* torchvision's convolutions have no bias: 0 */
		return;
	case CXR_INIT_KERAS:
		if (!bias) {
			/* glorot_uniform = VarianceScaling(1, "fan_avg", "uniform"):
			 * scale /= max(1, (fan_in + fan_out) / 2);
			 * limit = sqrt(3 * scale) */
			double scale = 1.0 / fmax(1.0, (s->fan_in + s->fan_out) / 2.0);
			s->dist = CXR_DIST_UNIFORM;
			s->value = sqrt(3.0 * scale);
		} /* bias_initializer="zeros" */
		return;
	case CXR_INIT_TORCH:
		s->dist = CXR_DIST_UNIFORM;
		if (!bias) {
			/* kaiming_uniform_(w, a=math.sqrt(5)):
			 * gain = sqrt(2 / (1 + a**2)); std = gain / sqrt(fan_in);
			 * bound = sqrt(3) * std, which is 1/sqrt(fan_in) */
			double a = sqrt(5.0);
			double gain = sqrt(2.0 / (1 + a * a));
			s->value = sqrt(3.0) * (gain / sqrt(s->fan_in));
		} else {
			/* bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0 */
			s->value = s->fan_in > 0 ? 1 / sqrt(s->fan_in) : 0;
		}
		return;
	}
	fprintf(stderr, "init: no scheme %d\n", scheme);
	abort();
}

void cxr_resnet_init_scheme(cxr_resnet *net, int scheme, uint64_t seed)
{
	cxr_rng r;
	cxr_rng_seed(&r, seed);
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		float *p = (t->trainable ? cxr_resnet_params(net) : cxr_resnet_buffers(net)) + t->offset;
		cxr_init_spec s;
		cxr_init_spec_of(net, i, scheme, &s);
		switch (s.dist) {
		case CXR_DIST_CONST:
			for (size_t k = 0; k < t->numel; k++)
				p[k] = (float)s.value;
			break;
		case CXR_DIST_UNIFORM:
			for (size_t k = 0; k < t->numel; k++)
				p[k] = (float)(s.value * (2 * cxr_rng_uniform(&r) - 1));
			break;
		case CXR_DIST_NORMAL:
			for (size_t k = 0; k < t->numel; k++)
				p[k] = (float)(s.value * cxr_rng_normal(&r));
			break;
		}
	}
	cxr_rng_seed(cxr_resnet_rng(net), seed ^ 0x6a09e667f3bcc908ull);
	cxr_resnet_params_changed(net);
}

void cxr_resnet_init(cxr_resnet *net, uint64_t seed)
{
	cxr_resnet_init_scheme(net, CXR_INIT_TORCHVISION, seed);
}
