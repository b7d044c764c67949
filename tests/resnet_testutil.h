/* resnet_testutil — what the network's Check suites share (check_resnet.c
 * for torchvision's architecture, check_keras.c for Keras's): the tcase
 * that checks a suite's golden files against PyTorch (tests/resnet_golden.h)
 * within the bounds check_resnet.c explains, a network of a given size, a
 * repeatable batch of pixels, a tensor's expected shape and a model file's
 * round trip. */
#ifndef CXR_RESNET_TESTUTIL_H
#define CXR_RESNET_TESTUTIL_H
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/model_file.h"
#include "nn/resnet.h"
#include "testutil.h"
#include "resnet_golden.h"

/* Both architectures' bounds against PyTorch's float32 (check_resnet.c
 * says why; the Adam bound serves golden_run only). */
static const golden_tol golden_check_tol __attribute__((unused)) = {
	.logits = 1e-4, .loss = 5e-5, .grad = 1e-3, .stats = 1e-5, .adam = 1e-6, .eval = 3e-4,
};

/* A suite's goldens: which runner, the name of the stem's weight, how
 * many comparisons each golden must make, and the files. */
typedef struct golden_suite {
	int keras;                        /* golden_run_keras, else golden_run */
	const char *stem;                 /* e.g. conv1.weight */
	int min_compared, max_compared;
	const char *files[4];             /* in tests/data, up to a NULL */
} golden_suite;

/* make_golden.py once stored numpy views of the live parameters, so the
 * "initial" tensors were the ones after the Adam step: true when the
 * golden's stem weight equals adam/ of it. */
static inline int golden_aliased(const char *path, const char *stem)
{
	cxr_model *m = cxr_model_load(path);
	ck_assert_msg(m != NULL, "%s", cxr_errmsg());
	char adam[160];
	snprintf(adam, sizeof adam, "adam/%s", stem);
	const cxr_tensor *a = cxr_model_find(m, stem), *b = cxr_model_find(m, adam);
	int same = a && b && a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
	cxr_model_free(m);
	return same;
}

/* Golden file of tests/data against PyTorch, the 3x3 convolutions by
 * Winograd and then by im2col: every comparison within golden_check_tol,
 * as many as s says. */
static inline void check_golden(const golden_suite *s, const char *file)
{
	const char *path = test_data(file);
	ck_assert_msg(!golden_aliased(path, s->stem),
		      "%s: its initial parameters equal adam/* (written by a make_golden.py that "
		      "stored views of the live tensors); regenerate it", file);
	for (int wino = 1; wino >= 0; wino--) {
		golden_report r;
		int rc = (s->keras ? golden_run_keras : golden_run)(path, wino, &golden_check_tol,
								     NULL, &r);
		ck_assert_msg(rc == 0, "%s", cxr_errmsg());
		fprintf(stderr, "%s (%s): logits %.2g loss %.2g eval %.2g/%.2g grad %.2g (%s) "
			"bias grad %.2g (%s) stats %.2g (%s) adam %.2g (%s); max abs/rel: logits "
			"%.2g/%.2g loss %.2g\n", file, wino ? "winograd" : "im2col", r.logits, r.loss,
			r.eval_logits, r.eval_unfolded, r.grad, r.grad_name, r.bias, r.bias_name,
			r.stats, r.stats_name, r.adam, r.adam_name, r.abs_logits, r.rel_logits,
			r.abs_loss);
		ck_assert_msg(r.compared >= s->min_compared && r.compared <= s->max_compared,
			      "%s: %d comparisons, expected %d to %d", file,
			      r.compared, s->min_compared, s->max_compared);
		ck_assert_msg(r.failed == 0, "%s: %d of %d comparisons off (worst gradient %.3g %s)",
			      file, r.failed, r.compared, r.grad, r.grad_name);
	}
}

static const golden_suite *golden_tcase_suite;

START_TEST(golden)
{
	check_golden(golden_tcase_suite, golden_tcase_suite->files[_i]);
}
END_TEST

/* The suite name: the tcase "golden", check_golden of each of g's files (a
 * test each), and the tcase "contracts" of the tests given up to a NULL,
 * each tcase with a 60 s timeout. */
static inline Suite *resnet_suite(const char *name, const golden_suite *g, ...)
{
	Suite *s = suite_create(name);
	int n = 0;
	while (n < 4 && g->files[n])
		n++;
	golden_tcase_suite = g;
	TCase *tc = tcase_create("golden");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, golden, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("contracts");
	tcase_set_timeout(tc, 60);
	va_list ap;
	va_start(ap, g);
	for (const TTest *t; (t = va_arg(ap, const TTest *));)
		tcase_add_test(tc, t);
	va_end(ap);
	suite_add_tcase(s, tc);
	return s;
}

/* A network of architecture arch (CXR_ARCH_*), width multiplier w, input
 * h x wd, for batches of up to batch images. */
static inline cxr_resnet *test_resnet(int arch, double w, int h, int wd, int batch)
{
	cxr_resnet_config cfg;
	cxr_resnet_default_config(&cfg);
	cfg.arch = arch;
	cfg.width_mult = w, cfg.height = h, cfg.width = wd;
	cxr_resnet *net = cxr_resnet_create(&cfg, batch);
	ck_assert_msg(net != NULL, "%s", cxr_errmsg());
	return net;
}

/* n images of hw pixels in [0, 1], the same for the same seed. */
static inline float *pixels(int n, int hw, unsigned seed)
{
	float *x = malloc((size_t)n * hw * sizeof *x);
	for (size_t i = 0; i < (size_t)n * hw; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 16) & 255) / 255.0f;
	}
	return x;
}

/* Asserts that net's tensor name has ndim dimensions a, b, c, d (as many
 * as it has). */
static inline void expect_dims(cxr_resnet *net, const char *name, int ndim, int64_t a, int64_t b,
			       int64_t c, int64_t d)
{
	const cxr_resnet_tensor *t = cxr_resnet_tensor_find(net, name);
	ck_assert_msg(t != NULL, "no tensor %s", name);
	int64_t want[4] = {a, b, c, d};
	ck_assert_int_eq(t->ndim, ndim);
	for (int i = 0; i < ndim; i++)
		ck_assert_msg(t->dims[i] == want[i], "%s dim %d: %lld, expected %lld", name, i,
			      (long long)t->dims[i], (long long)want[i]);
}

/* A tensor's expected shape; ndim 0: no such tensor. */
typedef struct test_shape {
	const char *name;
	int ndim;
	int64_t dims[4];
} test_shape;

/* Asserts net's tensors are as want says (expect_dims), up to a NULL name. */
static inline void expect_shapes(cxr_resnet *net, const test_shape *want)
{
	for (; want->name; want++)
		if (want->ndim)
			expect_dims(net, want->name, want->ndim, want->dims[0], want->dims[1],
				    want->dims[2], want->dims[3]);
		else
			ck_assert_msg(cxr_resnet_tensor_find(net, want->name) == NULL,
				      "tensor %s, expected none", want->name);
}

/* m with its metadata key set to value builds no network, and the error
 * says what. */
static inline void expect_refused(cxr_model *m, const char *key, const char *value,
				  const char *what)
{
	cxr_model_set_meta(m, key, value);
	ck_assert(cxr_resnet_from_model(m, 1) == NULL);
	ck_assert_msg(strstr(cxr_errmsg(), what) != NULL, "%s", cxr_errmsg());
}

/* m written to NAME in a fresh temporary directory (its path into path) and
 * read back; m is freed. */
static inline cxr_model *test_model_reload(cxr_model *m, const char *name, char *path,
					   size_t size)
{
	snprintf(path, size, "%s/%s", test_tmpdir(), name);
	ck_assert_msg(cxr_model_save(m, path) == 0, "%s", cxr_errmsg());
	cxr_model_free(m);
	m = cxr_model_load(path);
	ck_assert_msg(m != NULL, "%s", cxr_errmsg());
	return m;
}

#endif
