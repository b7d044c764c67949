/* check_metrics — lib/metrics (ROC, AUC, DeLong, bootstrap, Wilson,
 * thresholds, calibration) and lib/scores (reading, pairing, groups).
 * Reference values: scikit-learn's documented example, Hanley & McNeil
 * (1982), Newcombe (1998) for Wilson, brute-force O(n²) sums written
 * here, and tests/data/scores/delong.ref from tests/delong_ref.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cli.h"
#include "eval/metrics.h"
#include "base/rng.h"
#include "eval/scores_file.h"
#include "testutil.h"

#define NEAR(a, b, tol) ck_assert_msg(fabs((a) - (b)) <= (tol), "%s = %.17g, want %.17g", #a, \
				      (double)(a), (double)(b))

/* A value from tests/data/scores/delong.ref ("fixture key value"). */
static double ref(const char *fixture, const char *key)
{
	FILE *f = fopen(test_data("scores/delong.ref"), "r");
	ck_assert_msg(f != NULL, "no delong.ref");
	char a[64], b[64];
	double v;
	while (fscanf(f, "%63s %63s %lf", a, b, &v) == 3)
		if (!strcmp(a, fixture) && !strcmp(b, key)) {
			fclose(f);
			return v;
		}
	fclose(f);
	ck_abort_msg("delong.ref has no %s %s", fixture, key);
	return NAN;
}

/* Hanley & McNeil (1982) table 1: CT ratings of 58 normal, 51 abnormal. */
static size_t hanley(double *s, int *y)
{
	static const int normal[5] = {33, 6, 6, 11, 2}, abnormal[5] = {3, 2, 2, 11, 33};
	size_t n = 0;
	for (int r = 0; r < 5; r++) {
		for (int k = 0; k < normal[r]; k++)
			s[n] = r + 1, y[n++] = 0;
		for (int k = 0; k < abnormal[r]; k++)
			s[n] = r + 1, y[n++] = 1;
	}
	return n;
}

/* Brute force: AUC = mean over (positive, negative) pairs of ψ, DeLong's
 * variance from V10_i = mean_j ψ(x_i, y_j), V01_j = mean_i ψ(x_i, y_j). */
static double psi(double x, double y) { return x > y ? 1 : x == y ? 0.5 : 0; }

static void brute(const double *s, const int *y, size_t n, double *auc, double *var)
{
	double sum = 0, s10 = 0, s01 = 0;
	long m = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		m += y[i];
	k = (long)n - m;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (y[i] && !y[j])
				sum += psi(s[i], s[j]);
	*auc = sum / m / k;
	for (size_t i = 0; i < n; i++) {
		double v = 0;
		for (size_t j = 0; j < n; j++)
			if (y[i] != y[j])
				v += y[i] ? psi(s[i], s[j]) : psi(s[j], s[i]);
		v /= y[i] ? k : m;
		if (y[i])
			s10 += (v - *auc) * (v - *auc);
		else
			s01 += (v - *auc) * (v - *auc);
	}
	*var = s10 / (m - 1) / m + s01 / (k - 1) / k;
}

START_TEST(roc_sklearn_example)
{
	/* sklearn.metrics.roc_curve's docstring example. */
	double s[] = {0.1, 0.4, 0.35, 0.8};
	int y[] = {0, 0, 1, 1};
	cxr_roc r;
	ck_assert_int_eq(cxr_roc_build(&r, s, y, 4), 0);
	double thr[] = {INFINITY, 0.8, 0.4, 0.35, 0.1}, fpr[] = {0, 0, 0.5, 0.5, 1},
	       tpr[] = {0, 0.5, 0.5, 1, 1};
	ck_assert_uint_eq(r.npoints, 5);
	for (int k = 0; k < 5; k++) {
		ck_assert(r.p[k].threshold == thr[k]);
		ck_assert(r.p[k].fpr == fpr[k]);
		ck_assert(r.p[k].tpr == tpr[k]);
	}
	cxr_auc a;
	cxr_auc_from_roc(&r, &a);
	ck_assert(a.auc == 0.75);
	ck_assert(cxr_threshold_youden(&r) == 0.8); /* J = 0.5 at 0.8 and 0.35: the higher */
	ck_assert(cxr_threshold_sensitivity(&r, 1) == 0.35);
	ck_assert(cxr_threshold_sensitivity(&r, 0.5) == 0.8);
	ck_assert(cxr_threshold_sensitivity(&r, 0.51) == 0.35);
	cxr_roc_free(&r);
}
END_TEST

START_TEST(auc_ties)
{
	double s[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
	int y[6] = {0, 1, 0, 1, 0, 1};
	cxr_auc a;
	ck_assert_int_eq(cxr_auc_delong(s, y, 6, &a), 0);
	ck_assert(a.auc == 0.5);
	ck_assert(a.var == 0);
	/* -0.0 and +0.0 are one score: one tie block. */
	double z[4] = {-0.0, 0.0, 1, -1};
	int yz[4] = {1, 0, 1, 0};
	cxr_roc r;
	ck_assert_int_eq(cxr_roc_build(&r, z, yz, 4), 0);
	ck_assert_uint_eq(r.npoints, 4);
	cxr_auc_from_roc(&r, &a);
	ck_assert(a.auc == 0.875); /* pairs: (1>0) (1>-1) (0=0: ½) (0>-1) */
	cxr_roc_free(&r);
}
END_TEST

START_TEST(delong_hanley)
{
	double s[109];
	int y[109];
	size_t n = hanley(s, y);
	cxr_auc a;
	ck_assert_int_eq(cxr_auc_delong(s, y, n, &a), 0);
	NEAR(a.auc, 0.893, 5e-4); /* as published */
	NEAR(a.auc, ref("hanley", "all.auc"), 1e-12);
	NEAR(a.var, ref("hanley", "all.var"), 1e-15);
	double lo, hi;
	cxr_auc_ci(&a, CXR_Z95, &lo, &hi);
	NEAR(lo, ref("hanley", "all.ci_low"), 1e-12);
	NEAR(hi, ref("hanley", "all.ci_high"), 1e-12);
}
END_TEST

/* Random data with many ties: the block sums (cxr_auc_from_roc), the
 * per-sample components and brute force agree. */
START_TEST(delong_brute_force)
{
	cxr_rng g;
	cxr_rng_seed(&g, 42);
	for (int trial = 0; trial < 20; trial++) {
		size_t n = 20 + cxr_rng_below(&g, 300);
		double *s = malloc(n * sizeof *s), *v = malloc(n * sizeof *v);
		int *y = malloc(n * sizeof *y);
		int levels = 1 + (int)cxr_rng_below(&g, 30);
		for (size_t i = 0; i < n; i++) {
			y[i] = cxr_rng_uniform(&g) < 0.3;
			s[i] = (double)cxr_rng_below(&g, levels) + y[i] * (int)cxr_rng_below(&g, 3) - 5;
		}
		y[0] = 1, y[1] = 1, y[2] = 0, y[3] = 0;
		double bauc, bvar;
		brute(s, y, n, &bauc, &bvar);
		cxr_auc a, b;
		ck_assert_int_eq(cxr_auc_delong(s, y, n, &a), 0);
		ck_assert_int_eq(cxr_delong_components(s, y, n, v, &b), 0);
		NEAR(a.auc, bauc, 1e-12);
		NEAR(b.auc, bauc, 1e-12);
		NEAR(a.var, bvar, 1e-14);
		NEAR(b.var, bvar, 1e-14);
		free(s), free(v), free(y);
	}
}
END_TEST

START_TEST(delong_small_classes)
{
	double s[3] = {0.1, 0.2, 0.3};
	int y[3] = {0, 1, 0};
	cxr_auc a;
	ck_assert_int_eq(cxr_auc_delong(s, y, 3, &a), 0);
	ck_assert(a.auc == 0.5);
	ck_assert(isnan(a.var)); /* one positive: no sample variance */
	int y0[3] = {0, 0, 0};
	ck_assert_int_eq(cxr_auc_delong(s, y0, 3, &a), 0);
	ck_assert(isnan(a.auc));
	double lo, hi;
	cxr_auc_ci(&a, CXR_Z95, &lo, &hi);
	ck_assert(isnan(lo) && isnan(hi));
}
END_TEST

START_TEST(bad_input)
{
	double s[3] = {0.1, NAN, 0.3};
	int y[3] = {0, 1, 1};
	cxr_auc a;
	cxr_roc r;
	ck_assert_int_eq(cxr_auc_delong(s, y, 3, &a), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "score 2"));
	s[1] = 0.2;
	y[2] = 2;
	ck_assert_int_eq(cxr_roc_build(&r, s, y, 3), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "label 3"));
}
END_TEST

/* Scores files: ties.tsv against ties_b.tsv, matched by image name. */
START_TEST(paired_fixture)
{
	cxr_scores a, b;
	cxr_scores_opt o = {.want_image = 1};
	ck_assert_int_eq(cxr_scores_load(&a, test_data("scores/ties.tsv"), &o), 0);
	ck_assert_int_eq(cxr_scores_load(&b, test_data("scores/ties_b.tsv"), &o), 0);
	size_t *bi = malloc(a.n * sizeof *bi);
	ck_assert_int_eq(cxr_scores_match(&a, &b, bi), 0);
	double *sb = malloc(a.n * sizeof *sb);
	for (size_t i = 0; i < a.n; i++)
		sb[i] = b.score[bi[i]];
	cxr_delong_test t;
	ck_assert_int_eq(cxr_delong_paired(a.score, sb, a.label, a.n, &t), 0);
	NEAR(t.a.auc, ref("paired", "auc_a"), 1e-12);
	NEAR(t.b.auc, ref("paired", "auc_b"), 1e-12);
	NEAR(t.a.var, ref("paired", "var_a"), 1e-15);
	NEAR(t.b.var, ref("paired", "var_b"), 1e-15);
	NEAR(t.cov, ref("paired", "cov"), 1e-15);
	NEAR(t.z, ref("paired", "z"), 1e-9);
	NEAR(t.p, ref("paired", "p"), 1e-12);
	/* A scoring against itself: no test. */
	ck_assert_int_eq(cxr_delong_paired(a.score, a.score, a.label, a.n, &t), 0);
	ck_assert(t.diff == 0 && isnan(t.z) && isnan(t.p));
	free(bi), free(sb);
	cxr_scores_free(&a);
	cxr_scores_free(&b);
}
END_TEST

START_TEST(bootstrap)
{
	double s[109], aucs[500], aucs2[500];
	int y[109];
	size_t n = hanley(s, y);
	double lo, hi, lo2, hi2;
	ck_assert_int_eq(cxr_auc_bootstrap(s, y, n, 500, 7, 0.95, 1, &lo, &hi, aucs), 0);
	ck_assert_int_eq(cxr_auc_bootstrap(s, y, n, 500, 7, 0.95, 2, &lo2, &hi2, aucs2), 0);
	ck_assert(lo == lo2 && hi == hi2); /* threads do not change it */
	ck_assert(!memcmp(aucs, aucs2, sizeof aucs));
	/* About DeLong's interval (0.833, 0.953); every replicate is an AUC of
	 * a resample of 51 positives and 58 negatives. */
	NEAR(lo, 0.833, 0.02);
	NEAR(hi, 0.953, 0.02);
	for (int r = 0; r < 500; r++) {
		double k = aucs[r] * 2 * 51 * 58;
		NEAR(k, round(k), 1e-6);
	}
	ck_assert_int_eq(cxr_auc_bootstrap(s, y, n, 500, 8, 0.95, 1, &lo2, &hi2, NULL), 0);
	ck_assert(lo != lo2 || hi != hi2);
}
END_TEST

START_TEST(quantile)
{
	/* numpy.quantile([1, 2, 4, 8], q) (linear). */
	double x[] = {1, 2, 4, 8};
	NEAR(cxr_quantile_sorted(x, 4, 0), 1, 0);
	NEAR(cxr_quantile_sorted(x, 4, 0.5), 3, 1e-15);
	NEAR(cxr_quantile_sorted(x, 4, 0.025), 1.075, 1e-15);
	NEAR(cxr_quantile_sorted(x, 4, 0.975), 7.7, 1e-12);
	NEAR(cxr_quantile_sorted(x, 4, 1), 8, 0);
}
END_TEST

START_TEST(wilson)
{
	/* Newcombe (1998), Stat Med 17:857, table I, method 3 (Wilson). */
	static const struct { long k, n; double lo, hi; } t[] = {
		{81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611}, {1, 29, 0.0061, 0.1718}};
	for (int i = 0; i < 4; i++) {
		double lo, hi;
		cxr_wilson(t[i].k, t[i].n, CXR_Z95, &lo, &hi);
		NEAR(lo, t[i].lo, 5e-5);
		NEAR(hi, t[i].hi, 5e-5);
	}
	double lo, hi;
	cxr_wilson(10, 10, CXR_Z95, &lo, &hi);
	ck_assert(hi == 1);
	cxr_wilson(0, 0, CXR_Z95, &lo, &hi);
	ck_assert(isnan(lo) && isnan(hi));
}
END_TEST

START_TEST(confusion)
{
	double s[] = {0.1, 0.5, 0.5, 0.9, 0.2};
	int y[] = {0, 1, 0, 1, 1};
	cxr_confusion c;
	cxr_confusion_at(s, y, 5, 0.5, &c); /* score >= threshold is positive */
	ck_assert(c.tp == 2 && c.fp == 1 && c.tn == 1 && c.fn == 1);
}
END_TEST

START_TEST(threshold_rules)
{
	cxr_threshold_rule r;
	ck_assert_int_eq(cxr_threshold_rule_parse("youden", &r), 0);
	ck_assert_int_eq(r.kind, CXR_THR_YOUDEN);
	ck_assert_int_eq(cxr_threshold_rule_parse("sens=0.9", &r), 0);
	ck_assert(r.kind == CXR_THR_SENS && r.value == 0.9);
	ck_assert_int_eq(cxr_threshold_rule_parse("0.25", &r), 0);
	ck_assert(r.kind == CXR_THR_VALUE && r.value == 0.25);
	ck_assert_int_eq(cxr_threshold_rule_parse("sens=0", &r), -1);
	ck_assert_int_eq(cxr_threshold_rule_parse("sens=1.5", &r), -1);
	ck_assert_int_eq(cxr_threshold_rule_parse("high", &r), -1);
	cxr_threshold_rule st = {CXR_THR_STORED, NAN};
	ck_assert(cxr_threshold_choose(&st, NULL, NAN) == 0.5);
	ck_assert(cxr_threshold_choose(&st, NULL, 0.31) == 0.31);
}
END_TEST

START_TEST(calibration)
{
	double s[] = {0.05, 0.1, 0.15, 0.3, 0.95, 1.0, 0.7};
	int y[] = {0, 0, 1, 0, 1, 1, 0};
	cxr_calbin b[10];
	double ece;
	ck_assert_int_eq(cxr_calibration(s, y, 7, 10, b, &ece), 0);
	ck_assert(b[0].n == 1 && b[1].n == 2 && b[3].n == 1 && b[7].n == 1 && b[9].n == 2);
	ck_assert(b[2].n == 0 && isnan(b[2].mean_score));
	NEAR(b[1].mean_score, 0.125, 1e-15);
	/* Σ n_b |mean - frac| / n */
	double want = (0.05 + 2 * fabs(0.125 - 0.5) + 0.3 + 0.7 + 2 * fabs(0.975 - 1)) / 7;
	NEAR(ece, want, 1e-15);
	s[2] = 1.01;
	ck_assert_int_eq(cxr_calibration(s, y, 7, 10, b, &ece), -1);
}
END_TEST

START_TEST(argsort)
{
	enum { N = 5000 };
	double *s = malloc(N * sizeof *s);
	size_t *o = malloc(N * sizeof *o);
	cxr_rng g;
	cxr_rng_seed(&g, 3);
	for (int i = 0; i < N; i++)
		s[i] = (cxr_rng_uniform(&g) - 0.5) * pow(10, (int)cxr_rng_below(&g, 40) - 20);
	s[0] = 0, s[1] = -0.0, s[2] = 1e-310, s[3] = -1e-310;
	ck_assert_int_eq(cxr_argsort(s, N, o), 0);
	for (int i = 1; i < N; i++)
		ck_assert(s[o[i - 1]] <= s[o[i]]);
	free(s), free(o);
}
END_TEST

static const char *write_tmp(const char *text)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/s.tsv", test_tmpdir());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(scores_read)
{
	cxr_scores s;
	ck_assert_int_eq(cxr_scores_load(&s, test_data("scores/ties.tsv"), NULL), 0);
	ck_assert_uint_eq(s.n, 306);
	ck_assert_int_eq(s.skipped, 14);
	ck_assert_str_eq(s.model, "a1b2c3d4");
	ck_assert(isnan(s.threshold));
	cxr_scores_free(&s);
	static const struct { const char *text, *want; } bad[] = {
		{"", "empty input"},
		{"image\tlabel\nx\t1\n", "no 'score' column"},
		{"score\tlabel\n0.1\t1\nnan\t0\n", "line 3: score 'nan'"},
		{"score\tlabel\n0.1\t2\n", "line 2: label '2' is not 0, 1 or -"},
		{"score\tlabel\n0.1\t1\n0.2\n", "line 3"},
		{"score\tlabel\tmodel\n0.1\t1\ta\n0.2\t0\tb\n", "line 3: model 'b' differs"},
		{"score\tlabel\tthreshold\n0.1\t1\t0.4\n0.2\t0\t0.5\n", "line 3: threshold"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *p = write_tmp(bad[i].text);
		ck_assert_int_eq(cxr_scores_load(&s, p, NULL), -1);
		ck_assert_msg(strstr(cxr_errmsg(), bad[i].want) && strstr(cxr_errmsg(), p),
			      "case %zu: '%s'", i, cxr_errmsg());
	}
	const char *p = write_tmp("score\tlabel\tthreshold\n0.1\t1\t0.4\n0.2\t-\t0.4\n");
	ck_assert_int_eq(cxr_scores_load(&s, p, NULL), 0);
	ck_assert(s.n == 1 && s.skipped == 1 && s.threshold == 0.4);
	ck_assert_int_eq(cxr_scores_need_both(&s), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "both classes"));
	cxr_scores_free(&s);
	p = write_tmp("score\tlabel\n0.1\t-\n");
	ck_assert_int_eq(cxr_scores_load(&s, p, NULL), 0);
	ck_assert_int_eq(cxr_scores_need_both(&s), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "no rows with a label"));
	cxr_scores_free(&s);
	/* Another label column. */
	cxr_scores_opt o = {.label_col = "rad"};
	ck_assert_int_eq(cxr_scores_load(&s, test_data("scores/ties.tsv"), &o), 0);
	ck_assert_int_eq(s.skipped, 10);
	cxr_scores_free(&s);
}
END_TEST

START_TEST(scores_match)
{
	cxr_scores a, b;
	cxr_scores_opt o = {.want_image = 1};
	size_t bi[4];
	const char *p = write_tmp("image\tscore\tlabel\nx\t0.1\t1\ny\t0.2\t0\n");
	ck_assert_int_eq(cxr_scores_load(&a, p, &o), 0);
	p = write_tmp("image\tscore\tlabel\ny\t0.5\t0\nx\t0.1\t1\n");
	ck_assert_int_eq(cxr_scores_load(&b, p, &o), 0);
	ck_assert_int_eq(cxr_scores_match(&a, &b, bi), 0);
	ck_assert(bi[0] == 1 && bi[1] == 0);
	cxr_scores_free(&b);
	p = write_tmp("image\tscore\tlabel\ny\t0.5\t0\nz\t0.1\t1\n");
	ck_assert_int_eq(cxr_scores_load(&b, p, &o), 0);
	ck_assert_int_eq(cxr_scores_match(&a, &b, bi), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "image x is not in"));
	cxr_scores_free(&b);
	p = write_tmp("image\tscore\tlabel\ny\t0.5\t0\nx\t0.1\t0\n");
	ck_assert_int_eq(cxr_scores_load(&b, p, &o), 0);
	ck_assert_int_eq(cxr_scores_match(&a, &b, bi), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "image x has label 1, but 0"));
	cxr_scores_free(&b);
	p = write_tmp("image\tscore\tlabel\ny\t0.5\t0\ny\t0.1\t0\n");
	ck_assert_int_eq(cxr_scores_load(&b, p, &o), 0);
	ck_assert_int_eq(cxr_scores_match(&a, &b, bi), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "line 3: image y already on line 2"));
	cxr_scores_free(&b);
	cxr_scores_free(&a);
}
END_TEST

START_TEST(groups)
{
	cxr_scores s;
	const char *cols[] = {"age", "sex"};
	cxr_scores_opt o = {.group_cols = cols, .ngroup = 2};
	const char *p = write_tmp("score\tlabel\tage\tsex\n"
				  "0.1\t1\t9.5\tM\n0.2\t0\t90\tF\n0.3\t1\t-\t-\n0.4\t0\t10\tM\n"
				  "0.5\t1\t058Y\tF\n0.6\t0\t89\tM\n0.7\t1\t0\tF\n0.8\t0\t95\t-\n");
	ck_assert_int_eq(cxr_scores_load(&s, p, &o), 0);
	cxr_groups g;
	ck_assert_int_eq(cxr_groups_build(&g, &s, 0, "age", 10), 0);
	static const char *names[] = {"0", "10", "50", "80", "90+", "-"};
	ck_assert_int_eq(g.ngroups, 6);
	for (int k = 0; k < 6; k++)
		ck_assert_str_eq(g.names[k], names[k]);
	static const int ids[] = {0, 4, 5, 1, 2, 3, 0, 4};
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(g.id[i], ids[i]);
	cxr_groups_free(&g);
	ck_assert_int_eq(cxr_groups_build(&g, &s, 0, "age", 7), 0);
	ck_assert_str_eq(g.names[g.ngroups - 2], "84+"); /* 89, 90, 95 */
	cxr_groups_free(&g);
	ck_assert_int_eq(cxr_groups_build(&g, &s, 1, "sex", 0), 0);
	ck_assert_int_eq(g.ngroups, 3);
	ck_assert_str_eq(g.names[0], "F");
	ck_assert_str_eq(g.names[1], "M");
	ck_assert_str_eq(g.names[2], "-");
	cxr_groups_free(&g);
	ck_assert_int_eq(cxr_groups_build(&g, &s, 1, "sex", 10), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "line 2: sex 'M' is not a number"));
	cxr_scores_free(&s);
}
END_TEST

START_TEST(fmt_num)
{
	char b[32];
	ck_assert_str_eq(cxr_fmt_num(b, 0.1), "0.1");
	ck_assert_str_eq(cxr_fmt_num(b, 0.5), "0.5");
	ck_assert_str_eq(cxr_fmt_num(b, NAN), "-");
	ck_assert_str_eq(cxr_fmt_num(b, INFINITY), "inf");
	double x = 1.0 / 3;
	ck_assert(strtod(cxr_fmt_num(b, x), NULL) == x);
	x = 0.1 + 0.2;
	ck_assert(strtod(cxr_fmt_num(b, x), NULL) == x);
}
END_TEST

/* A million scores: sort-based, so well under a second of CPU here. */
START_TEST(million)
{
	enum { N = 1000000 };
	double *s = malloc(N * sizeof *s);
	int *y = malloc(N * sizeof *y);
	cxr_rng g;
	cxr_rng_seed(&g, 5);
	for (int i = 0; i < N; i++) {
		y[i] = cxr_rng_uniform(&g) < 0.4;
		s[i] = (float)(cxr_rng_uniform(&g) * 0.7 + 0.3 * y[i]);
	}
	clock_t t0 = clock(); /* CPU time: other jobs on the machine do not count */
	cxr_roc r;
	cxr_auc a;
	ck_assert_int_eq(cxr_roc_build(&r, s, y, N), 0);
	cxr_auc_from_roc(&r, &a);
	double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
	fprintf(stderr, "million: ROC + AUC + DeLong in %.3f s CPU (%zu points)\n", dt, r.npoints);
	ck_assert(dt < 2.0);
	/* AUC of U(0,.7) vs U(.3,1): 1 - 0.5·(0.4/0.7)² = 0.83673... */
	NEAR(a.auc, 1 - 0.5 * (0.4 / 0.7) * (0.4 / 0.7), 2e-3);
	cxr_roc_free(&r);
	free(s), free(y);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("core");
	tcase_add_test(t, roc_sklearn_example);
	tcase_add_test(t, auc_ties);
	tcase_add_test(t, delong_hanley);
	tcase_add_test(t, delong_brute_force);
	tcase_add_test(t, delong_small_classes);
	tcase_add_test(t, bad_input);
	tcase_add_test(t, paired_fixture);
	tcase_add_test(t, bootstrap);
	tcase_add_test(t, quantile);
	tcase_add_test(t, wilson);
	tcase_add_test(t, confusion);
	tcase_add_test(t, threshold_rules);
	tcase_add_test(t, calibration);
	tcase_add_test(t, argsort);
	tcase_add_test(t, scores_read);
	tcase_add_test(t, scores_match);
	tcase_add_test(t, groups);
	tcase_add_test(t, fmt_num);
	tcase_add_test(t, million);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return s;
}

int main(void) { return test_run_suite(suite()); }
