/* check_keras — the keras-resnet50 architecture of lib/nn/resnet: against
 * PyTorch's twin written from keras/applications/resnet.py
 * (bench/keras_twin.py; goldens by tests/golden/make_keras_golden.py,
 * compared by tests/resnet_golden.h), with the 3x3 convolutions by
 * Winograd and by im2col; and its own contracts: Keras's layer names,
 * shapes, strides and parameter count, the arch in model files, batch
 * norm folding with the convolution biases.
 *
 * Bounds against PyTorch are check_resnet.c's (see there why): logits
 * 1e-4, eval logits 3e-4, loss 5e-5, every gradient 1e-3 (a convolution
 * bias's relative to its unit's BN bias gradient, resnet_golden.h), BN
 * running statistics 1e-5. On the two goldens PyTorch's own float32
 * lies 1.2e-4 and 7e-5 (worst gradient), 1.3e-5 and 9e-6 (logits) from
 * its float64 (the metadata's golden.f64_err_*). A wrong stride, epsilon,
 * momentum or a bias left out of the running mean or the folding is off by
 * 1e-2 or more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/model_file.h"
#include "nn/init.h"
#include "nn/resnet.h"
#include "run/resnet_file.h"
#include "resnet_testutil.h"

/* 53 units of 6 tensors (weight, bias, gamma, beta, mean, var), the head's
 * 4, logits, loss and the eval logits folded and not; no optimizer step */
static const golden_suite goldens = {
	1, "conv1_conv.weight", 53 * 6 + 4 + 4, 53 * 6 + 4 + 4,
	{"keras_w16_64.cxm", "keras_w16_72x56.cxm"},
};

static cxr_resnet *make(double w, int h, int wd, int batch)
{
	return test_resnet(CXR_ARCH_KERAS, w, h, wd, batch);
}

START_TEST(shapes)
{
	/* Keras's ResNet50(include_top=False) on 3 channels: 23534592
	 * trainable parameters, 53120 moving statistics; here a 1-channel
	 * stem (7*7*2*64 fewer) and the study's head (2048*512+512 + 512+1) */
	cxr_resnet *net = make(1, 256, 256, 1);
	ck_assert_uint_eq(cxr_resnet_num_params(net), 23534592 - 6272 + 1049601);
	ck_assert_uint_eq(cxr_resnet_num_buffers(net), 53120);
	expect_shapes(net, (const test_shape[]){
		{"conv1_conv.weight", 4, {64, 1, 7, 7}},
		{"conv1_conv.bias", 1, {64}},
		{"conv2_block1_0_conv.weight", 4, {256, 64, 1, 1}},
		{"conv3_block1_1_conv.weight", 4, {128, 256, 1, 1}},
		{"conv3_block1_2_conv.bias", 1, {128}},
		{"conv5_block3_3_bn.running_var", 1, {2048}},
		{"dense.weight", 2, {512, 2048}},
		{"dense_1.bias", 1, {1}},
		{"conv2_block2_0_conv.weight", 0, {0}},
		{"conv1.weight", 0, {0}},
		{NULL},
	});
	/* state_dict order: a conv's bias after its weight, then its BN */
	const cxr_resnet_tensor *t0 = cxr_resnet_tensor_at(net, 0), *t1 = cxr_resnet_tensor_at(net, 1);
	ck_assert_str_eq(t0->name, "conv1_conv.weight");
	ck_assert_str_eq(t1->name, "conv1_conv.bias");
	ck_assert_int_eq(t1->kind, CXR_TK_CONV_B);
	ck_assert_str_eq(cxr_resnet_tensor_at(net, 2)->name, "conv1_bn.weight");
	/* the stride is on the first 1x1 (it halves the grid: 1x1 stride 2 is
	 * 4x fewer products than at stride 1) and every 3x3 is stride 1 */
	double k = cxr_resnet_flops(net, 0), tv;
	cxr_resnet_free(net);
	cxr_resnet_config cfg;
	cxr_resnet_default_config(&cfg);
	net = cxr_resnet_create(&cfg, 1);
	tv = cxr_resnet_flops(net, 0);
	cxr_resnet_free(net);
	/* Keras's network costs 9.87 GFLOP at 256x256 (the 3x3 of each
	 * stage's first block runs on the halved grid), torchvision's 10.47 */
	ck_assert_msg(k < tv && k > 0.85 * tv, "keras %g torchvision %g", k, tv);
	/* odd sizes: a 1x1 stride 2 on 9x7 gives 5x4, as Keras's valid padding */
	net = make(1.0 / 16, 72, 56, 1);
	ck_assert(cxr_resnet_forward(net, (float[72 * 56]){0}, 1, 0) != NULL);
	cxr_resnet_free(net);
}
END_TEST

START_TEST(model_and_fold)
{
	cxr_resnet *net = make(1.0 / 16, 40, 36, 2);
	cxr_resnet_init(net, 7);
	/* non-zero biases, so that folding them in shows */
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		if (t->kind == CXR_TK_CONV_B)
			for (size_t q = 0; q < t->numel; q++)
				cxr_resnet_params(net)[t->offset + q] = 0.1f * (float)((int)(q % 7) - 3);
	}
	cxr_resnet_params_changed(net);
	/* running statistics away from their initial 0 and 1 (Keras's momentum
	 * 0.01 moves them slowly) */
	float *x = pixels(2, 40 * 36, 3);
	for (int i = 0; i < 50; i++)
		ck_assert(cxr_resnet_forward(net, x, 2, 1) != NULL);
	float a[2], b[2];
	memcpy(a, cxr_resnet_forward(net, x, 2, 0), sizeof a);
	cxr_resnet_set_fold(net, 0);
	memcpy(b, cxr_resnet_forward(net, x, 2, 0), sizeof b);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(b[i])), "folded %g unfolded %g",
			      a[i], b[i]);
	/* a bias change moves the folded output as the unfolded one */
	cxr_resnet_params(net)[cxr_resnet_tensor_find(net, "conv1_conv.bias")->offset] += 0.5f;
	cxr_resnet_params_changed(net);
	memcpy(b, cxr_resnet_forward(net, x, 2, 0), sizeof b);
	cxr_resnet_set_fold(net, 1);
	const float *y = cxr_resnet_forward(net, x, 2, 0);
	ck_assert(fabsf(y[0] - b[0]) <= 1e-5f * (1 + fabsf(b[0])));
	ck_assert_msg(fabsf(y[0] - a[0]) > 1e-4f, "the stem's bias changed nothing: %g", y[0]);
	memcpy(a, y, sizeof a);

	/* the model file says keras-resnet50 and builds the same network */
	cxr_model *m = cxr_model_new();
	ck_assert_int_eq(cxr_resnet_to_model(net, m), 0);
	ck_assert_str_eq(cxr_model_get_meta(m, "arch"), "keras-resnet50");
	ck_assert(cxr_model_find(m, "conv3_block1_0_conv.bias") != NULL);
	char path[128];
	m = test_model_reload(m, "k.cxm", path, sizeof path);
	cxr_resnet *back = cxr_resnet_from_model(m, 2);
	ck_assert_msg(back != NULL, "%s", cxr_errmsg());
	ck_assert_int_eq(cxr_resnet_get_config(back)->arch, CXR_ARCH_KERAS);
	y = cxr_resnet_forward(back, x, 2, 0);
	ck_assert(!memcmp(a, y, sizeof a));
	cxr_resnet_free(back);
	/* a Keras file read as torchvision's: the missing tensor is named */
	expect_refused(m, "arch", "resnet50", "conv1.weight");
	expect_refused(m, "arch", "keras-resnet18", "keras-resnet18");
	cxr_model_free(m);
	unlink(path);
	free(x);
	cxr_resnet_free(net);
}
END_TEST

int main(void)
{
	return test_run_suite(resnet_suite("keras", &goldens, shapes, model_and_fold, NULL));
}
