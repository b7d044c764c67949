/* check_report — lib/eval/groupeval (per-group figures, Newcombe's
 * interval, gaps, small groups, group labels), lib/eval/svg (wrapping,
 * escaping, the legend below the plot, the forest plot's hollow rows) and
 * lib/eval/report (how the threshold was chosen, the page's notes on the
 * validation counts). Reference values: Newcombe (1998), table II, method
 * 10; everything else follows from the definitions, computed here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "eval/groupeval.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/scores_file.h"
#include "eval/svg.h"
#include "testutil.h"

#define NEAR(a, b, tol) ck_assert_msg(fabs((a) - (b)) <= (tol), "%s = %.17g, want %.17g", #a, \
				      (double)(a), (double)(b))

/* What a writer of f put there, as one string (freed by the caller). */
typedef struct mem {
	char *buf;
	size_t len;
	FILE *f;
} mem;
static FILE *mem_open(mem *m)
{
	m->f = open_memstream(&m->buf, &m->len);
	ck_assert(m->f != NULL);
	return m->f;
}
static char *mem_close(mem *m)
{
	fclose(m->f);
	return m->buf;
}

START_TEST(newcombe_published)
{
	/* Newcombe (1998), Statistics in Medicine 17:873, table II, method 10. */
	static const struct {
		long k1, n1, k2, n2;
		double lo, hi;
	} t[] = {{56, 70, 48, 80, 0.0524, 0.3339}, {9, 10, 3, 10, 0.1705, 0.8090},
		 {5, 56, 0, 29, -0.0381, 0.1926},  {0, 10, 0, 20, -0.1611, 0.2775},
		 {0, 10, 0, 10, -0.2775, 0.2775},  {10, 10, 0, 20, 0.6791, 1.0000},
		 {10, 10, 0, 10, 0.6075, 1.0000}};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		double lo, hi;
		cxr_newcombe_diff(t[i].k1, t[i].n1, t[i].k2, t[i].n2, CXR_Z95, &lo, &hi);
		NEAR(lo, t[i].lo, 5e-5);
		NEAR(hi, t[i].hi, 5e-5);
	}
	double lo, hi;
	cxr_newcombe_diff(1, 0, 1, 2, CXR_Z95, &lo, &hi);
	ck_assert(isnan(lo) && isnan(hi));
}
END_TEST

START_TEST(gap)
{
	/* A part of 30 with 12 positives, the rest 70 with 42: the gap to the
	 * whole (54 of 100) is (70/100)(12/30 - 42/70), its interval that
	 * factor times Newcombe's. */
	double g, lo, hi, nlo, nhi;
	cxr_gap_ci(12, 30, 42, 70, CXR_Z95, &g, &lo, &hi);
	cxr_newcombe_diff(12, 30, 42, 70, CXR_Z95, &nlo, &nhi);
	NEAR(g, 12.0 / 30 - 54.0 / 100, 1e-15);
	NEAR(g, 0.7 * (12.0 / 30 - 42.0 / 70), 1e-15);
	NEAR(lo, 0.7 * nlo, 1e-15);
	NEAR(hi, 0.7 * nhi, 1e-15);
	ck_assert(lo < g && g < hi);
	cxr_gap_ci(5, 10, 0, 0, CXR_Z95, &g, &lo, &hi); /* the part is the whole */
	ck_assert(g == 0 && lo == 0 && hi == 0);
	cxr_gap_ci(0, 0, 5, 10, CXR_Z95, &g, &lo, &hi); /* an empty part */
	ck_assert(isnan(g) && isnan(lo) && isnan(hi));
}
END_TEST

START_TEST(group_eval_small)
{
	enum { N = 40 };
	double s[N];
	int y[N];
	for (int i = 0; i < N; i++)
		s[i] = i / (double)N, y[i] = i >= 20;
	cxr_group_stats g, sub;
	ck_assert_int_eq(cxr_group_eval(s, y, N, 0.5, &g), 0);
	ck_assert_int_eq(g.n, 40);
	ck_assert_int_eq(g.pos, 20);
	ck_assert_int_eq(g.neg, 20);
	NEAR(g.auc.auc, 1, 0);
	NEAR(g.tpr, 1, 0);
	NEAR(g.fpr, 0, 0);
	ck_assert(!g.small);
	double lo, hi;
	cxr_wilson(20, 20, CXR_Z95, &lo, &hi);
	NEAR(g.tpr_lo, lo, 0);
	NEAR(g.tpr_hi, hi, 0);
	/* 29 rows: small; 30 with 4 positives: small; 30 with 5 of each: not. */
	ck_assert_int_eq(cxr_group_eval(s + 11, y + 11, 29, 0.5, &sub), 0);
	ck_assert(sub.small);
	ck_assert_int_eq(cxr_group_eval(s, y, 24, 0.5, &sub), 0);
	ck_assert(sub.small);
	ck_assert_int_eq(cxr_group_eval(s + 4, y + 4, 30, 0.5, &sub), 0);
	ck_assert_int_eq(sub.neg, 16);
	ck_assert_int_eq(sub.pos, 14);
	ck_assert(!sub.small);
	ck_assert_int_eq(cxr_group_eval(s + 15, y + 15, 25, 0.5, &sub), 0);
	ck_assert(sub.small); /* 25 rows */
	/* gaps against the whole */
	ck_assert_int_eq(cxr_group_eval(s + 10, y + 10, 20, 0.6, &sub), 0);
	cxr_group_eval(s, y, N, 0.6, &g);
	cxr_group_gaps(&sub, &g);
	NEAR(sub.tpr_gap, sub.tpr - g.tpr, 1e-15);
	NEAR(sub.fpr_gap, sub.fpr - g.fpr, 1e-15);
	ck_assert(sub.tpr_gap_lo <= sub.tpr_gap && sub.tpr_gap <= sub.tpr_gap_hi);
}
END_TEST

START_TEST(labels)
{
	char b[64];
	cxr_group_label(b, sizeof b, "age", 10, "0");
	ck_assert_str_eq(b, "0\xe2\x80\x93" "9");
	cxr_group_label(b, sizeof b, "age", 10, "80");
	ck_assert_str_eq(b, "80\xe2\x80\x93" "89");
	cxr_group_label(b, sizeof b, "age", 10, "90+");
	ck_assert_str_eq(b, "90+");
	cxr_group_label(b, sizeof b, "age", 5, "85+");
	ck_assert_str_eq(b, "85+");
	cxr_group_label(b, sizeof b, "age", 1, "42");
	ck_assert_str_eq(b, "42");
	cxr_group_label(b, sizeof b, "age", 2.5, "20");
	ck_assert_str_eq(b, "[20, 22.5)");
	cxr_group_label(b, sizeof b, "bmi", 5, "20");
	ck_assert_str_eq(b, "[20, 25)");
	cxr_group_label(b, sizeof b, "age", 10, "-");
	ck_assert_str_eq(b, "unknown");
	cxr_group_label(b, sizeof b, "sex", 0, "F");
	ck_assert_str_eq(b, "F");
	cxr_group_label(b, sizeof b, "view", 0, "-");
	ck_assert_str_eq(b, "unknown");
	ck_assert_str_eq(cxr_group_column_label("age"), "age (years)");
	ck_assert_str_eq(cxr_group_column_label("view"), "view");
}
END_TEST

START_TEST(table_fixture)
{
	const char *cols[] = {"age"};
	cxr_scores s;
	cxr_scores_opt o = {.group_cols = cols, .ngroup = 1};
	ck_assert_int_eq(cxr_scores_load(&s, test_data("scores/ties.tsv"), &o), 0);
	cxr_group_stats all;
	ck_assert_int_eq(cxr_group_eval(s.score, s.label, s.n, 0.5, &all), 0);
	cxr_group_table t;
	ck_assert_int_eq(cxr_group_table_build(&t, &s, 0, "age", 10, 0.5, &all), 0);
	ck_assert_str_eq(t.column, "age");
	ck_assert_str_eq(t.key[0], "0");
	ck_assert_str_eq(t.label[0], "0\xe2\x80\x93" "9");
	ck_assert_str_eq(t.key[t.ngroups - 1], "-");
	ck_assert_str_eq(t.label[t.ngroups - 1], "unknown");
	long n = 0, tp = 0;
	for (int k = 0; k < t.ngroups; k++) {
		n += t.g[k].n;
		tp += t.g[k].c.tp;
		ck_assert_int_eq(t.g[k].small, t.g[k].n < 30 || t.g[k].pos < 5 || t.g[k].neg < 5);
	}
	ck_assert_int_eq(n, all.n);
	ck_assert_int_eq(tp, all.c.tp);
	cxr_group_table_free(&t);
	cxr_scores_free(&s);
}
END_TEST

START_TEST(threshold_words)
{
	char b[300];
	cxr_threshold_rule r = {CXR_THR_STORED, 0};
	cxr_threshold_describe(b, sizeof b, &r, 0.3);
	ck_assert(strstr(b, "the model's own") != NULL);
	cxr_threshold_describe(b, sizeof b, &r, NAN);
	ck_assert(strstr(b, "0.5, the default") != NULL);
	r = (cxr_threshold_rule){CXR_THR_VALUE, 0.4};
	cxr_threshold_describe(b, sizeof b, &r, 0.3);
	ck_assert(strstr(b, "given") != NULL);
	r = (cxr_threshold_rule){CXR_THR_YOUDEN, 0};
	cxr_threshold_describe(b, sizeof b, &r, 0.3);
	ck_assert(strstr(b, "Youden") && strstr(b, "optimistic"));
	r = (cxr_threshold_rule){CXR_THR_SENS, 0.9};
	cxr_threshold_describe(b, sizeof b, &r, 0.3);
	ck_assert(strstr(b, "sensitivity 0.9") && strstr(b, "optimistic"));
	ck_assert_str_eq(cxr_report_base_name("/a/b/test.scores.tsv"), "test.scores.tsv");
	ck_assert_str_eq(cxr_report_base_name("s.tsv"), "s.tsv");
	ck_assert_str_eq(cxr_report_base_name("-"), "stdin");
	ck_assert_str_eq(cxr_report_base_name(NULL), "stdin");
}
END_TEST

START_TEST(svg_text)
{
	cxr_roc_point p[3] = {{INFINITY, 0, 0, 0, 0}, {0.5, 0.2, 0.8, 4, 1}, {0.1, 1, 1, 5, 5}};
	cxr_svg_curve c = {p, 3, "a <b> & c", "AUC 0.9", 0.2, 0.8, "threshold 0.5"};
	mem m;
	/* A title of one word longer than a line keeps its start and end. */
	const char *title = "/data/runs/2026-11-29/resnet50-width1-pa-only-seed7-lr0.001-batch32/"
			    "test.scores.tsv";
	ck_assert_int_eq(cxr_svg_roc(mem_open(&m), title, "n = 10", &c, 1, 0), 0);
	char *s = mem_close(&m);
	ck_assert(strncmp(s, "<?xml", 5) == 0);
	ck_assert(strstr(s, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
	ck_assert(strstr(s, "\xe2\x80\xa6") != NULL);          /* … */
	ck_assert(strstr(s, "test.scores.tsv</text>") != NULL); /* its end */
	ck_assert(strstr(s, ">/data/runs/") != NULL);          /* its start */
	ck_assert(strstr(s, "a &lt;b&gt; &amp; c") != NULL);
	ck_assert(strstr(s, ">threshold 0.5<") != NULL);
	ck_assert(strstr(s, ">n = 10<") != NULL);
	free(s);
	/* Inline: no declaration, no namespace URL; words wrap, none lost. */
	const char *cap = "one two three four five six seven eight nine ten eleven twelve "
			  "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
			  "twentyone twentytwo";
	ck_assert_int_eq(cxr_svg_roc(mem_open(&m), "t", cap, &c, 1, CXR_SVG_INLINE), 0);
	s = mem_close(&m);
	ck_assert(strncmp(s, "<svg width=", 11) == 0);
	ck_assert(strstr(s, "http") == NULL);
	ck_assert(strstr(s, ">one two ") != NULL);
	ck_assert(strstr(s, "twentytwo</text>") != NULL);
	ck_assert(strstr(s, "nineteen") != NULL);
	free(s);
}
END_TEST

START_TEST(svg_forest)
{
	cxr_svg_row rows[3] = {{"sex", NULL, 1, 0}, {"F", "n 40", 0, 0}, {"M", "n 3", 0, 1}};
	cxr_svg_est e[3] = {{NAN, NAN, NAN, NULL}, {0.8, 0.7, 0.9, NULL}, {NAN, NAN, NAN, "no AUC"}};
	cxr_svg_panel p = {"AUC", 0.4, 1, 0.5, 0.8, "chance", "all", e};
	mem m;
	ck_assert_int_eq(cxr_svg_forest(mem_open(&m), NULL, "cap", rows, 3, &p, 1, 0), 0);
	char *s = mem_close(&m);
	ck_assert(strstr(s, "<title>AUC</title>") != NULL); /* no title: the panel's */
	ck_assert(strstr(s, ">sex<") && strstr(s, ">F<") && strstr(s, ">n 40<"));
	ck_assert(strstr(s, ">no AUC<") != NULL);
	ck_assert(strstr(s, ">chance<") && strstr(s, ">all<"));
	free(s);
	/* A hollow row's point is an open circle; an interval off the panel
	 * ends in an arrowhead. */
	e[2] = (cxr_svg_est){0.9, 0.2, 1.0, NULL};
	ck_assert_int_eq(cxr_svg_forest(mem_open(&m), "T", NULL, rows, 3, &p, 1, 0), 0);
	s = mem_close(&m);
	ck_assert(strstr(s, "fill=\"white\" stroke=\"#888\"") != NULL);
	ck_assert(strstr(s, "<path d=\"M") != NULL && strstr(s, "Z\" fill=\"#888\"") != NULL);
	free(s);
}
END_TEST

/* A page from a small fixture, with the model's metadata given. */
static char *page(const cxr_kv *meta, int nmeta, long val_n, long val_pos)
{
	enum { N = 40 };
	static double s[N];
	static int y[N];
	for (int i = 0; i < N; i++)
		s[i] = (i % 7) / 7.0 + 0.1 * (i >= 20), y[i] = i >= 20;
	cxr_roc roc;
	ck_assert_int_eq(cxr_roc_build(&roc, s, y, N), 0);
	cxr_group_stats all;
	ck_assert_int_eq(cxr_group_eval(s, y, N, 0.5, &all), 0);
	cxr_calbin bins[10];
	double ece;
	ck_assert_int_eq(cxr_calibration(s, y, N, 10, bins, &ece), 0);
	cxr_report r = {.title = "T", .scores_path = "x/s.tsv", .label_col = "label",
			.model = "abc", .roc = &roc, .all = &all, .thr = 0.5,
			.thr_source = "the model's own", .thr_stored = 1, .bins = bins,
			.nbins = 10, .ece = ece, .model_path = meta ? "m.cxm" : NULL, .meta = meta,
			.nmeta = nmeta, .val_path = val_n >= 0 ? "val.tsv" : NULL, .val_n = val_n,
			.val_pos = val_pos, .self_command = "cxr-report x/s.tsv",
			.version = "cxr-report 0", .date = "2026-01-01T00:00:00Z"};
	strcpy(r.scores_sha256, "00");
	mem m;
	ck_assert_int_eq(cxr_report_html(mem_open(&m), &r), 0);
	cxr_roc_free(&roc);
	return mem_close(&m);
}

START_TEST(page_val_counts)
{
	cxr_kv with[] = {{"threshold_rule", "youden"}, {"val_n", "500"}, {"val_positives", "235"}};
	char *s = page(with, 3, -1, -1);
	ck_assert(strstr(s, "by Youden's J") != NULL);
	ck_assert(strstr(s, "records 500 validation images: 235 abnormal, 265 normal") != NULL);
	free(s);
	cxr_kv without[] = {{"threshold_rule", "youden"}, {"val_auc", "0.9"}};
	s = page(without, 2, 40, 15);
	ck_assert(strstr(s, "does not record how many validation images") != NULL);
	ck_assert(strstr(s, "holds 40 labelled images: 15 abnormal, 25 normal") != NULL);
	ck_assert(strstr(s, "<th>validation AUC</th><td><code>0.9</code>") != NULL);
	free(s);
	s = page(NULL, 0, -1, -1);
	ck_assert(strstr(s, "No model file was given") != NULL);
	ck_assert(strstr(s, "<script") == NULL && strstr(s, "http") == NULL);
	ck_assert(strstr(s, "No group tables") != NULL);
	free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("report");
	TCase *t = tcase_create("core");
	tcase_add_test(t, newcombe_published);
	tcase_add_test(t, gap);
	tcase_add_test(t, group_eval_small);
	tcase_add_test(t, labels);
	tcase_add_test(t, table_fixture);
	tcase_add_test(t, threshold_words);
	tcase_add_test(t, svg_text);
	tcase_add_test(t, svg_forest);
	tcase_add_test(t, page_val_counts);
	suite_add_tcase(s, t);
	return s;
}

int main(void) { return test_run_suite(suite()); }
