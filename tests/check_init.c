/* check_init — the three --init schemes of nn/init.h:
 *  - torchvision draws today's bits: the same params and buffers for the
 *    same seed as cxr_resnet_init always gave (hashes taken from the
 *    library before init.c existed);
 *  - each tensor's distribution is PyTorch 1.13's own (tests/init_golden.h,
 *    written by tests/golden/make_init_golden.py from what PyTorch's code
 *    passes to uniform_ and normal_), and the formulas of init.h;
 *  - the values drawn follow it: within the bound, mean, second moment,
 *    the share inside half the bound (uniform) or one standard deviation
 *    (normal), and the largest value near the bound, each to within
 *    Z standard errors of its sample size (or the chance 1e-9 of a
 *    maximum that low), Z = 6: a false alarm is about 2e-9 per check;
 *  - every tensor is set, whatever its kind; buffers 0 and 1;
 *  - the checks can fail: they reject a scheme's values as another's. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/init.h"
#include "nn/resnet.h"
#include "testutil.h"
#include "init_golden.h"

#define Z 6.0

static cxr_resnet *make_arch(int arch, double width, int size)
{
	cxr_resnet_config c;
	cxr_resnet_default_config(&c);
	c.arch = arch;
	c.width_mult = width;
	c.height = c.width = size;
	cxr_resnet *net = cxr_resnet_create(&c, 2);
	ck_assert(net);
	return net;
}

static cxr_resnet *make(double width, int size)
{
	return make_arch(CXR_ARCH_TORCHVISION, width, size);
}

/* FNV-1a over the params then the buffers, as bytes. */
static uint64_t fnv(cxr_resnet *net)
{
	uint64_t h = 1469598103934665603ull;
	const unsigned char *p = (const unsigned char *)cxr_resnet_params(net);
	for (size_t i = 0; i < cxr_resnet_num_params(net) * sizeof(float); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	p = (const unsigned char *)cxr_resnet_buffers(net);
	for (size_t i = 0; i < cxr_resnet_num_buffers(net) * sizeof(float); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The values of cxr_resnet_init before init.c: built against the library
 * of commit ac84ef7 (width, input size, seed -> hash). */
START_TEST(torchvision_bits)
{
	static const struct { double w; int size; uint64_t seed, hash; } want[] = {
		{0.0625, 32, 42, 0xeb63020eae829af7ull},
		{0.125, 32, 42, 0xc195b23d29f86679ull},
	};
	for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
		cxr_resnet *a = make(want[k].w, want[k].size), *b = make(want[k].w, want[k].size);
		cxr_resnet_init(a, want[k].seed);
		cxr_resnet_init_scheme(b, CXR_INIT_TORCHVISION, want[k].seed);
		ck_assert_msg(fnv(a) == want[k].hash, "width %g: cxr_resnet_init drew other bits "
			      "(%016llx, not %016llx)", want[k].w, (unsigned long long)fnv(a),
			      (unsigned long long)want[k].hash);
		ck_assert(!memcmp(cxr_resnet_params(a), cxr_resnet_params(b),
				  cxr_resnet_num_params(a) * sizeof(float)));
		ck_assert(!memcmp(cxr_resnet_rng(a), cxr_resnet_rng(b), sizeof(cxr_rng)));
		cxr_resnet_free(a);
		cxr_resnet_free(b);
	}
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(cxr_init_name(CXR_INIT_TORCHVISION), "torchvision");
	ck_assert_str_eq(cxr_init_name(CXR_INIT_KERAS), "keras");
	ck_assert_str_eq(cxr_init_name(CXR_INIT_TORCH), "torch");
	ck_assert_str_eq(cxr_init_name(3), "?");
	for (int s = 0; s < 3; s++)
		ck_assert_int_eq(cxr_init_parse(cxr_init_name(s)), s);
	ck_assert_int_eq(cxr_init_parse("Torch"), -1);
	ck_assert_int_eq(cxr_init_parse(""), -1);
}
END_TEST

static int close_rel(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fabs(b);
}

/* Each trainable tensor's distribution is the one PyTorch's code draws
 * (golden), and every golden row has its tensor. torch: the same double
 * (init.c computes it as PyTorch does); torchvision and keras within
 * 1e-15: cxr's sqrt(2/fan_out) and nn.Linear's 1/sqrt(fan_in) are
 * today's bits, Keras's sqrt(3/((fi+fo)/2)) is xavier_uniform_'s
 * sqrt(3)*sqrt(2/(fi+fo)), each within an ulp or two. */
START_TEST(golden_pytorch)
{
	cxr_resnet *net = make(init_golden_width, 32);
	const size_t ng = sizeof init_golden / sizeof *init_golden;
	for (int s = 0; s < 3; s++) {
		const char *sn = cxr_init_name(s);
		int trainable = 0, rows = 0;
		for (size_t g = 0; g < ng; g++)
			rows += !strcmp(init_golden[g].scheme, sn);
		for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
			const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
			if (!t->trainable)
				continue;
			trainable++;
			const struct init_golden *g = NULL;
			for (size_t k = 0; k < ng && !g; k++)
				if (!strcmp(init_golden[k].scheme, sn) && !strcmp(init_golden[k].name, t->name))
					g = &init_golden[k];
			ck_assert_msg(g, "%s: no golden row for %s", sn, t->name);
			cxr_init_spec sp;
			cxr_init_spec_of(net, i, s, &sp);
			const int dist = g->dist == 'C' ? CXR_DIST_CONST
				: g->dist == 'U' ? CXR_DIST_UNIFORM : CXR_DIST_NORMAL;
			ck_assert_msg(sp.dist == dist, "%s %s: distribution %d, PyTorch's %c", sn,
				      t->name, sp.dist, g->dist);
			if (s == CXR_INIT_TORCH || dist == CXR_DIST_CONST)
				ck_assert_msg(sp.value == g->value, "%s %s: %.17g, PyTorch's %.17g", sn,
					      t->name, sp.value, g->value);
			else
				ck_assert_msg(close_rel(sp.value, g->value, 1e-15),
					      "%s %s: %.17g, PyTorch's %.17g", sn, t->name, sp.value, g->value);
			/* An nn.Conv2d bias of this shape: 1/sqrt(fan_in), which is
			 * what init.c gives a convolution bias under torch. */
			if (g->conv_bias >= 0)
				ck_assert_msg(1 / sqrt(sp.fan_in) == g->conv_bias,
					      "%s: a bias's bound 1/sqrt(%g), PyTorch's %.17g", t->name,
					      sp.fan_in, g->conv_bias);
		}
		ck_assert_msg(rows == trainable, "%s: %d golden rows, %d trainable tensors", sn, rows,
			      trainable);
	}
	cxr_resnet_free(net);
}
END_TEST

/* The distribution init.h promises for a tensor, from its shape alone:
 * what the frameworks' documentation says, written independently of
 * init.c's arithmetic. */
static void promised(const cxr_resnet *net, int i, int scheme, int *dist, double *value)
{
	const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i), *w = t;
	*dist = CXR_DIST_CONST;
	*value = 0;
	switch (t->kind) {
	case CXR_TK_BN_W: case CXR_TK_BN_VAR: *value = 1; return;
	case CXR_TK_BN_B: case CXR_TK_BN_MEAN: return;
	}
	if (t->kind == CXR_TK_CONV_B || t->kind == CXR_TK_FC_B)
		w = cxr_resnet_tensor_at(net, i - 1);
	ck_assert_msg(w->kind == CXR_TK_CONV_W || w->kind == CXR_TK_FC_W,
		      "%s: no weight before the bias", t->name);
	double rf = w->ndim == 4 ? (double)(w->dims[2] * w->dims[3]) : 1;
	double fi = (double)w->dims[1] * rf, fo = (double)w->dims[0] * rf;
	int bias = w != t, conv = w->ndim == 4;
	switch (scheme) {
	case CXR_INIT_TORCHVISION:
		if (conv && !bias)
			*dist = CXR_DIST_NORMAL, *value = sqrt(2 / fo);
		else if (!conv)
			*dist = CXR_DIST_UNIFORM, *value = 1 / sqrt(fi);
		return;
	case CXR_INIT_KERAS:
		if (!bias)
			*dist = CXR_DIST_UNIFORM, *value = sqrt(6 / (fi + fo));
		return;
	case CXR_INIT_TORCH:
		*dist = CXR_DIST_UNIFORM, *value = 1 / sqrt(fi);
		return;
	}
}

/* Whether n values x follow dist(value); NULL if so, else what fails. */
static const char *follows(const float *x, size_t n, int dist, double value, char *why,
			   size_t whylen)
{
	double s1 = 0, s2 = 0, mx = 0;
	size_t in = 0;
	if (dist == CXR_DIST_CONST) {
		for (size_t k = 0; k < n; k++)
			if (x[k] != (float)value) {
				snprintf(why, whylen, "element %zu is %g, not %g", k, x[k], value);
				return why;
			}
		return NULL;
	}
	for (size_t k = 0; k < n; k++) {
		double v = x[k];
		s1 += v, s2 += v * v, mx = fmax(mx, fabs(v));
		in += fabs(v) <= (dist == CXR_DIST_UNIFORM ? value / 2 : value);
	}
	double m1 = s1 / n, m2 = s2 / n, share = (double)in / n;
	/* the moments' means and standard errors: U(-b,b): E x^2 = b^2/3,
	 * Var x^2 = b^4/5 - b^4/9, P(|x| <= b/2) = 1/2; N(0,s): E x^2 = s^2,
	 * Var x^2 = 2 s^4, P(|x| <= s) = erf(1/sqrt 2) */
	double b = value, e2, sd2, sd1, p;
	if (dist == CXR_DIST_UNIFORM) {
		e2 = b * b / 3, sd1 = b / sqrt(3), sd2 = b * b * sqrt(4.0 / 45), p = 0.5;
		/* float rounding may land a value a hair past b */
		if (mx > b * (1 + 1e-7)) {
			snprintf(why, whylen, "max |x| %.9g beyond the bound %.9g", mx, b);
			return why;
		}
		/* P(max |x| < b (1-d)) = (1-d)^n = 1e-9 */
		double d = 1 - pow(1e-9, 1.0 / n);
		if (mx < b * (1 - d)) {
			snprintf(why, whylen, "max |x| %.9g, far below the bound %.9g (n %zu)", mx, b, n);
			return why;
		}
	} else {
		e2 = b * b, sd1 = b, sd2 = b * b * sqrt(2.0), p = erf(1 / sqrt(2.0));
	}
	double rn = sqrt((double)n);
	if (fabs(m1) > Z * sd1 / rn)
		snprintf(why, whylen, "mean %.4g, |mean| > %g x %.4g (n %zu)", m1, Z, sd1 / rn, n);
	else if (fabs(m2 - e2) > Z * sd2 / rn)
		snprintf(why, whylen, "mean square %.6g, not %.6g +- %g x %.3g (n %zu)", m2, e2, Z,
			 sd2 / rn, n);
	else if (fabs(share - p) > Z * sqrt(p * (1 - p) / n))
		snprintf(why, whylen, "share inside %s %.4f, not %.4f +- %g x %.3g (n %zu)",
			 dist == CXR_DIST_UNIFORM ? "b/2" : "sd", share, p, Z, sqrt(p * (1 - p) / n), n);
	else
		return NULL;
	return why;
}

static const float *values(cxr_resnet *net, const cxr_resnet_tensor *t)
{
	return (t->trainable ? cxr_resnet_params(net) : cxr_resnet_buffers(net)) + t->offset;
}

/* Every tensor of a width-1/4 network (the largest 2.4e5 values, the
 * smallest 1) after init_scheme follows what init.h promises, and
 * init.c's spec says the same; for both architectures (Keras's has
 * convolution biases). */
static void check_arch(int arch, int scheme, uint64_t seed)
{
	int nbias = 0;
	cxr_resnet *net = make_arch(arch, 0.25, 32);
	/* NaN everywhere first: a tensor init forgets stays NaN and fails */
	for (size_t k = 0; k < cxr_resnet_num_params(net); k++)
		cxr_resnet_params(net)[k] = NAN;
	for (size_t k = 0; k < cxr_resnet_num_buffers(net); k++)
		cxr_resnet_buffers(net)[k] = NAN;
	cxr_resnet_init_scheme(net, scheme, seed);
	char why[256];
	for (int i = 0; i < cxr_resnet_ntensors(net); i++) {
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net, i);
		int dist;
		double value;
		promised(net, i, scheme, &dist, &value);
		cxr_init_spec sp;
		cxr_init_spec_of(net, i, scheme, &sp);
		ck_assert_msg(sp.dist == dist && close_rel(sp.value, value, 1e-15),
			      "%s %s: spec %d %.17g, promised %d %.17g", cxr_init_name(scheme), t->name,
			      sp.dist, sp.value, dist, value);
		const char *bad = follows(values(net, t), t->numel, dist, value, why, sizeof why);
		ck_assert_msg(!bad, "%s %s (seed %llu): %s", cxr_init_name(scheme), t->name,
			      (unsigned long long)seed, bad);
		nbias += t->kind == CXR_TK_CONV_B;
	}
	/* 53 convolutions in Keras's ResNet-50, each with a bias */
	ck_assert_int_eq(nbias, arch == CXR_ARCH_KERAS ? 53 : 0);
	cxr_resnet_free(net);
}

static void check_scheme(int scheme, uint64_t seed)
{
	check_arch(CXR_ARCH_TORCHVISION, scheme, seed);
	check_arch(CXR_ARCH_KERAS, scheme, seed);
}

START_TEST(torchvision_distribution) { check_scheme(CXR_INIT_TORCHVISION, 3); }
END_TEST
START_TEST(keras_distribution) { check_scheme(CXR_INIT_KERAS, 3); }
END_TEST
START_TEST(torch_distribution) { check_scheme(CXR_INIT_TORCH, 3); }
END_TEST

/* The checks above can fail: the largest conv and dense weight of each
 * scheme fail as the others' (different bounds or shapes); a convolution
 * drawn from a normal fails as a uniform of the same variance. */
START_TEST(checks_can_fail)
{
	cxr_resnet *net[3];
	for (int s = 0; s < 3; s++) {
		net[s] = make(0.25, 32);
		cxr_resnet_init_scheme(net[s], s, 5);
	}
	char why[256];
	int kinds[] = {CXR_TK_CONV_W, CXR_TK_FC_W};
	for (int kk = 0; kk < 2; kk++) {
		int i = -1;
		for (int k = 0; k < cxr_resnet_ntensors(net[0]); k++) {
			const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net[0], k);
			if (t->kind == kinds[kk] && (i < 0 || t->numel > cxr_resnet_tensor_at(net[0], i)->numel))
				i = k;
		}
		const cxr_resnet_tensor *t = cxr_resnet_tensor_at(net[0], i);
		for (int drawn = 0; drawn < 3; drawn++)
			for (int as = 0; as < 3; as++) {
				int dist;
				double value;
				promised(net[as], i, as, &dist, &value);
				const char *bad = follows(values(net[drawn], t), t->numel, dist, value, why,
							  sizeof why);
				/* torchvision and torch share nn.Linear's dense layers */
				int same = drawn == as || (kinds[kk] == CXR_TK_FC_W &&
					drawn != CXR_INIT_KERAS && as != CXR_INIT_KERAS);
				ck_assert_msg(same ? !bad : bad != NULL, "%s drawn by %s, checked as %s: %s",
					      t->name, cxr_init_name(drawn), cxr_init_name(as),
					      bad ? bad : "passes");
			}
	}
	/* a normal as a uniform of its variance: only the shape differs */
	const cxr_resnet_tensor *t = cxr_resnet_tensor_find(net[0], "layer4.0.conv2.weight");
	double sd = sqrt(2.0 / (double)(t->dims[0] * t->dims[2] * t->dims[3]));
	ck_assert_msg(follows(values(net[0], t), t->numel, CXR_DIST_UNIFORM, sd * sqrt(3.0), why,
			      sizeof why), "a normal passes as a uniform");
	for (int s = 0; s < 3; s++)
		cxr_resnet_free(net[s]);
}
END_TEST

/* The same seed gives the same bits, another seed others; the dropout
 * generator is seeded too. */
START_TEST(seeds)
{
	for (int s = 0; s < 3; s++) {
		cxr_resnet *a = make(0.0625, 32), *b = make(0.0625, 32);
		size_t n = cxr_resnet_num_params(a) * sizeof(float);
		cxr_resnet_init_scheme(a, s, 11);
		cxr_resnet_init_scheme(b, s, 11);
		ck_assert(!memcmp(cxr_resnet_params(a), cxr_resnet_params(b), n));
		ck_assert(!memcmp(cxr_resnet_rng(a), cxr_resnet_rng(b), sizeof(cxr_rng)));
		cxr_resnet_init_scheme(b, s, 12);
		ck_assert(memcmp(cxr_resnet_params(a), cxr_resnet_params(b), n));
		ck_assert(memcmp(cxr_resnet_rng(a), cxr_resnet_rng(b), sizeof(cxr_rng)));
		cxr_resnet_free(a);
		cxr_resnet_free(b);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("init");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, torchvision_bits);
	tcase_add_test(tc, names);
	tcase_add_test(tc, golden_pytorch);
	tcase_add_test(tc, torchvision_distribution);
	tcase_add_test(tc, keras_distribution);
	tcase_add_test(tc, torch_distribution);
	tcase_add_test(tc, checks_can_fail);
	tcase_add_test(tc, seeds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
