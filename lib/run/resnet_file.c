/* resnet_file — the one place where the network meets the model file:
 * a cxr_resnet's configuration and tensors to and from a .cxm container
 * (man/cxr-model.5). The engine (nn/) knows no file format and the
 * container (data/model_file) knows no network; this module maps the
 * one onto the other: architecture metadata (arch, width_mult,
 * in_channels, input_height, input_width, head_hidden, dropout) and
 * every tensor under its state_dict name in PyTorch's layout. */
#include "run/resnet_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/stream.h"

static void fmt_double(char *buf, size_t n, double v)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* The model file's arch values: torchvision's network keeps the
 * "resnet50" cxr has always written, so older files read as before. */
static const char *const arch_names[] = {
	[CXR_ARCH_TORCHVISION] = "resnet50",
	[CXR_ARCH_KERAS] = "keras-resnet50",
};

const char *cxr_resnet_arch_name(int arch)
{
	return arch == CXR_ARCH_KERAS ? arch_names[arch] : arch_names[CXR_ARCH_TORCHVISION];
}

int cxr_resnet_to_model(const cxr_resnet *net, cxr_model *m)
{
	const cxr_resnet_config *cfg = cxr_resnet_get_config(net);
	char buf[64];
	cxr_model_set_meta(m, "arch", cxr_resnet_arch_name(cfg->arch));
	fmt_double(buf, sizeof buf, cfg->width_mult);
	cxr_model_set_meta(m, "width_mult", buf);
	snprintf(buf, sizeof buf, "%d", cfg->in_channels);
	cxr_model_set_meta(m, "in_channels", buf);
	snprintf(buf, sizeof buf, "%d", cfg->height);
	cxr_model_set_meta(m, "input_height", buf);
	snprintf(buf, sizeof buf, "%d", cfg->width);
	cxr_model_set_meta(m, "input_width", buf);
	snprintf(buf, sizeof buf, "%d", cfg->head_hidden);
	cxr_model_set_meta(m, "head_hidden", buf);
	fmt_double(buf, sizeof buf, cfg->dropout);
	cxr_model_set_meta(m, "dropout", buf);
	/* The accessors hand out writable arrays; they are only read here. */
	cxr_resnet *rw = (cxr_resnet *)net;
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		float *dst = cxr_model_add(m, t->name, CXR_F32, t->ndim, t->dims);
		if (!dst) {
			cxr_seterr("%s: cannot add to the model", t->name);
			return -1;
		}
		cxr_resnet_tensor_export(t, dst, t->trainable ? cxr_resnet_params(rw) : cxr_resnet_buffers(rw));
	}
	return 0;
}

int cxr_resnet_load_tensors(cxr_resnet *net, const cxr_model *m)
{
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		const float *src = cxr_model_expect_f32(m, t->name, t->ndim, t->dims);
		if (!src)
			return -1;
		cxr_resnet_tensor_import(t, t->trainable ? cxr_resnet_params(net) : cxr_resnet_buffers(net), src);
	}
	cxr_resnet_params_changed(net);
	return 0;
}

static const char *model_name(const cxr_model *m)
{
	const char *p = cxr_model_path(m);
	return p ? p : "model";
}

static int meta_double(const cxr_model *m, const char *key, double *v, double lo, double hi,
		       int required)
{
	const char *s = cxr_model_get_meta(m, key);
	if (!s) {
		if (!required)
			return 0;
		cxr_seterr("%s: no '%s' in the metadata", model_name(m), key);
		return -1;
	}
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || *end || errno || !(d >= lo && d <= hi)) {
		cxr_seterr("%s: metadata %s = '%s' is not a number in [%g, %g]", model_name(m),
			   key, s, lo, hi);
		return -1;
	}
	*v = d;
	return 0;
}

static int meta_int(const cxr_model *m, const char *key, int *v, int lo, int hi, int required)
{
	double d = *v;
	if (meta_double(m, key, &d, lo, hi, required))
		return -1;
	if (d != floor(d)) {
		cxr_seterr("%s: metadata %s = '%s' is not an integer", model_name(m), key,
			   cxr_model_get_meta(m, key));
		return -1;
	}
	*v = (int)d;
	return 0;
}

int cxr_resnet_config_from_model(cxr_resnet_config *cfg, const cxr_model *m)
{
	cxr_resnet_default_config(cfg);
	const char *arch = cxr_model_get_meta(m, "arch");
	if (!arch) {
		cxr_seterr("%s: no 'arch' in the metadata", model_name(m));
		return -1;
	}
	if (!strcmp(arch, arch_names[CXR_ARCH_KERAS])) {
		cfg->arch = CXR_ARCH_KERAS;
	} else if (strcmp(arch, arch_names[CXR_ARCH_TORCHVISION])) {
		cxr_seterr("%s: architecture '%s', expected resnet50 (torchvision's) or "
			   "keras-resnet50", model_name(m), arch);
		return -1;
	}
	if (meta_double(m, "width_mult", &cfg->width_mult, 1e-6, 64, 1) ||
	    meta_int(m, "in_channels", &cfg->in_channels, 1, 64, 0) ||
	    meta_int(m, "input_height", &cfg->height, 1, 65536, 1) ||
	    meta_int(m, "input_width", &cfg->width, 1, 65536, 1) ||
	    meta_int(m, "head_hidden", &cfg->head_hidden, 1, 1 << 20, 0) ||
	    meta_double(m, "dropout", &cfg->dropout, 0, 0.999999, 0))
		return -1;
	return 0;
}

cxr_resnet *cxr_resnet_from_model(const cxr_model *m, int max_batch)
{
	cxr_resnet_config cfg;
	if (cxr_resnet_config_from_model(&cfg, m))
		return NULL;
	cxr_resnet *net = cxr_resnet_create(&cfg, max_batch);
	if (!net)
		return NULL;
	if (cxr_resnet_load_tensors(net, m)) {
		cxr_resnet_free(net);
		return NULL;
	}
	return net;
}
