/* check_optim — Adam, AdamW and the schedules against torch 1.13's own
 * numbers (tests/data/golden_optim.cxm, written by
 * tests/golden/make_golden.py). Adam must agree to 1e-6 relative per
 * element; on the machine that wrote the golden it agrees bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/model_file.h"
#include "nn/optim.h"
#include "testutil.h"

static cxr_model *golden;

static void setup(void)
{
	golden = cxr_model_load(test_data("golden_optim.cxm"));
	ck_assert_msg(golden, "%s", cxr_errmsg());
}

static void teardown(void)
{
	cxr_model_free(golden);
}

static const char *meta(const char *prefix, const char *key)
{
	char k[128];
	snprintf(k, sizeof k, "%s%s", prefix, key);
	const char *v = cxr_model_get_meta(golden, k);
	ck_assert_msg(v, "golden lacks %s", k);
	return v;
}

static const float *tensor(const char *name, int ndim, const int64_t *dims)
{
	const float *p = cxr_model_expect_f32(golden, name, ndim, dims);
	ck_assert_msg(p, "%s", cxr_errmsg());
	return p;
}

/* Largest |a-b| / max(|b|, floor) over n; floor keeps exact zeros fair. */
static double max_rel(const float *a, const float *b, size_t n, double floor, size_t *where)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), floor);
		if (!(d <= worst)) { /* NaN counts as worst */
			worst = isnan(d) ? INFINITY : d;
			*where = i;
		}
	}
	return worst;
}

static void check_config(const char *name)
{
	long n = atol(meta("optim.", "n")), steps = atol(meta("optim.", "steps"));
	char pre[64];
	snprintf(pre, sizeof pre, "%s.", name);
	cxr_adam_cfg cfg = {
		.lr = strtod(meta(pre, "lr"), NULL),
		.beta1 = strtod(meta(pre, "beta1"), NULL),
		.beta2 = strtod(meta(pre, "beta2"), NULL),
		.eps = strtod(meta(pre, "eps"), NULL),
		.weight_decay = strtod(meta(pre, "weight_decay"), NULL),
		.decoupled = atoi(meta(pre, "decoupled")),
	};
	int64_t d1[1] = {n}, d2[2] = {steps, n};
	const float *p0 = tensor("p0", 1, d1), *grads = tensor("grads", 2, d2);
	char key[64];
	snprintf(key, sizeof key, "%s/p", name);
	const float *wp = tensor(key, 2, d2);
	snprintf(key, sizeof key, "%s/m", name);
	const float *wm = tensor(key, 2, d2);
	snprintf(key, sizeof key, "%s/v", name);
	const float *wv = tensor(key, 2, d2);

	float *p = malloc(n * sizeof *p), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
	memcpy(p, p0, n * sizeof *p);
	for (long t = 0; t < steps; t++) {
		cxr_adam_step(p, grads + t * n, m, v, (size_t)n, &cfg, t + 1);
		size_t i = 0;
		double e;
		e = max_rel(p, wp + t * n, n, 1e-30, &i);
		ck_assert_msg(e < 1e-6, "%s step %ld: p[%zu] = %.9g, torch %.9g (rel %.3g)", name,
			      t + 1, i, p[i], wp[t * n + i], e);
		e = max_rel(m, wm + t * n, n, 1e-30, &i);
		ck_assert_msg(e < 1e-6, "%s step %ld: m[%zu] = %.9g, torch %.9g", name, t + 1, i,
			      m[i], wm[t * n + i]);
		e = max_rel(v, wv + t * n, n, 1e-30, &i);
		ck_assert_msg(e < 1e-6, "%s step %ld: v[%zu] = %.9g, torch %.9g", name, t + 1, i,
			      v[i], wv[t * n + i]);
	}
	free(p);
	free(m);
	free(v);
}

START_TEST(test_adam) { check_config("adam"); }
END_TEST

START_TEST(test_adam_l2) { check_config("adam_l2"); }
END_TEST

START_TEST(test_adamw) { check_config("adamw"); }
END_TEST

/* A large array takes the threaded path and must give the same numbers as
 * element-wise updates of its pieces. */
START_TEST(test_threads_same)
{
	size_t n = 1 << 20;
	float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
	float q[3], gm[3] = {0}, gv[3] = {0};
	for (size_t i = 0; i < n; i++) {
		p[i] = (float)sin((double)i);
		g[i] = (float)cos((double)i * 0.37) * 1e-2f;
	}
	cxr_adam_cfg cfg = cxr_adam_defaults();
	cfg.weight_decay = 0.05;
	cfg.decoupled = 1;
	size_t pick[3] = {0, 123457, n - 1};
	for (int k = 0; k < 3; k++)
		q[k] = p[pick[k]];
	for (long t = 1; t <= 3; t++) {
		cxr_adam_step(p, g, m, v, n, &cfg, t);
		for (int k = 0; k < 3; k++)
			cxr_adam_step(&q[k], &g[pick[k]], &gm[k], &gv[k], 1, &cfg, t);
	}
	for (int k = 0; k < 3; k++)
		ck_assert_float_eq(p[pick[k]], q[k]);
	free(p);
	free(g);
	free(m);
	free(v);
}
END_TEST

/* "a,b,c" -> up to max doubles */
static int parse_list(const char *s, double *out, int max)
{
	int n = 0;
	char *end;
	while (*s && n < max) {
		out[n++] = strtod(s, &end);
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s)
			break;
	}
	return n;
}

START_TEST(test_cosine)
{
	double want[32];
	int n = parse_list(meta("cosine.", "lrs"), want, 32);
	double base = atof(meta("cosine.", "base")), min = atof(meta("cosine.", "min"));
	long total = atol(meta("cosine.", "total"));
	ck_assert_int_ge(n, (int)total + 1);
	/* torch's recursive form agrees with the closed form to rounding;
	 * past total torch's schedule rises again, ours stays at min */
	for (long s = 0; s <= total; s++) {
		double got = cxr_lr_cosine(base, min, s, total, 0);
		ck_assert_msg(fabs(got - want[s]) <= 1e-12 * want[s], "cosine step %ld: %.17g, torch %.17g",
			      s, got, want[s]);
	}
	ck_assert_double_eq(cxr_lr_cosine(base, min, total + 5, total, 0), min);
	/* warmup: linear up to base, then the cosine over what is left */
	ck_assert_double_eq_tol(cxr_lr_cosine(0.1, 0, 0, 12, 4), 0.025, 1e-15);
	ck_assert_double_eq_tol(cxr_lr_cosine(0.1, 0, 3, 12, 4), 0.1, 1e-15);
	ck_assert_double_eq_tol(cxr_lr_cosine(0.1, 0, 4, 12, 4), 0.1, 1e-15);
	ck_assert_double_eq_tol(cxr_lr_cosine(0.1, 0, 8, 12, 4), 0.05, 1e-15);
	ck_assert_double_eq(cxr_lr_cosine(0.1, 0, 12, 12, 4), 0);
}
END_TEST

START_TEST(test_plateau)
{
	double metrics[64], want[64];
	int n = parse_list(meta("plateau.", "metrics"), metrics, 64);
	ck_assert_int_eq(parse_list(meta("plateau.", "lrs"), want, 64), n);
	cxr_plateau s;
	cxr_plateau_init(&s, atof(meta("plateau.", "lr0")), !strcmp(meta("plateau.", "mode"), "max"));
	s.factor = atof(meta("plateau.", "factor"));
	s.patience = atoi(meta("plateau.", "patience"));
	s.threshold = atof(meta("plateau.", "threshold"));
	s.cooldown = atoi(meta("plateau.", "cooldown"));
	s.min_lr = atof(meta("plateau.", "min_lr"));
	for (int i = 0; i < n; i++) {
		double lr = cxr_plateau_step(&s, metrics[i]);
		ck_assert_msg(lr == want[i], "plateau epoch %d: lr %.17g, torch %.17g", i + 1, lr,
			      want[i]);
		/* the state survives a checkpoint exactly */
		char buf[512];
		cxr_plateau r;
		cxr_plateau_format(&s, buf, sizeof buf);
		ck_assert_int_eq(cxr_plateau_parse(&r, buf), 0);
		ck_assert(r.mode_max == s.mode_max && r.factor == s.factor &&
			  r.patience == s.patience && r.threshold == s.threshold &&
			  r.cooldown == s.cooldown && r.min_lr == s.min_lr && r.lr == s.lr &&
			  r.best == s.best && r.num_bad == s.num_bad &&
			  r.cooldown_left == s.cooldown_left && r.epoch == s.epoch);
	}
	ck_assert_int_eq(cxr_plateau_parse(&s, "mode=sideways"), -1);
}
END_TEST

START_TEST(test_plateau_nan)
{
	cxr_plateau s;
	cxr_plateau_init(&s, 1.0, 0);
	s.patience = 1;
	cxr_plateau_step(&s, 0.5);
	cxr_plateau_step(&s, NAN);
	ck_assert_double_eq(s.best, 0.5);
	ck_assert_double_eq(cxr_plateau_step(&s, NAN), 0.1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("optim");
	TCase *tc = tcase_create("optim");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_adam);
	tcase_add_test(tc, test_adam_l2);
	tcase_add_test(tc, test_adamw);
	tcase_add_test(tc, test_threads_same);
	tcase_add_test(tc, test_cosine);
	tcase_add_test(tc, test_plateau);
	tcase_add_test(tc, test_plateau_nan);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
