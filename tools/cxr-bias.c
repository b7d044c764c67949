/* cxr-bias — a model's performance per group of patients (sex, age
 * bucket, view, any column): AUC with DeLong's CI, error rate, and TPR and
 * FPR at the one threshold of the whole population, with their gaps to it
 * (the TPR disparity of Seyyed-Kalantari et al., CheXclusion 2021). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/options.h"
#include "eval/metrics.h"
#include "eval/scores_file.h"
#include "eval/groupeval.h"
#include "eval/refstd.h"
#include "eval/report.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-bias [options] [SCORES|-]\n"
		"\n"
		"  -b, --by COLUMN[:WIDTH]  one table per --by: groups by COLUMN's value, or\n"
		"                      numeric buckets of WIDTH (age: 90 and over is one)\n"
		"                      (default: --by sex --by age:10)\n"
		"  -t, --threshold T   decision threshold: a number, youden or sens=X\n"
		"                      (default: the scores' threshold column, else 0.5)\n"
		"      --svg FILE      forest plot: AUC, TPR gap, FPR gap per group (95%% CI)\n"
		"      --title TEXT    the plot's title (default: from FILE's name)\n"
		"      --label COLUMN  evaluate against this column (default label)\n"
		"      --reference FILE  evaluate against FILE's labels instead, joined by\n"
		"                      image: IMAGE LABEL lines, or a TSV with image and\n"
		"                      label columns (--label then names FILE's column)\n"
		"  -o, --output FILE   write the table to FILE (whole or not at all)\n"
		"  -j, --jobs N        accepted for symmetry; the work is one pass\n"
		"  -q, --quiet         no notes on stderr\n"
		"      --help, --version\n");
}

enum { MAX_BY = 32 };

struct cmdline {
	cxr_threshold_rule thr;
	const char *by[MAX_BY];
	double width[MAX_BY];
	int nby, quiet;
	const char *svg, *label, *out, *title, *reference;
};

static void print_row(FILE *f, const char *col, const char *group, const char *label,
		      const cxr_group_stats *g)
{
	char b[12][32];
	fprintf(f, "%s\t%s\t%ld\t%ld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", col,
		group, g->n, g->pos, cxr_fmt_num(b[0], g->auc.auc), cxr_fmt_num(b[1], g->auc_lo),
		cxr_fmt_num(b[2], g->auc_hi), cxr_fmt_num(b[3], g->err), cxr_fmt_num(b[4], g->tpr),
		cxr_fmt_num(b[5], g->fpr), cxr_fmt_num(b[6], g->tpr_gap), cxr_fmt_num(b[7], g->fpr_gap),
		cxr_fmt_num(b[8], g->tpr_gap_lo), cxr_fmt_num(b[9], g->tpr_gap_hi),
		cxr_fmt_num(b[10], g->fpr_gap_lo), cxr_fmt_num(b[11], g->fpr_gap_hi), g->small, label);
}

/* Parses COLUMN[:WIDTH]. */
static void add_by(struct cmdline *cl, const char *arg)
{
	if (cl->nby == MAX_BY)
		cxr_usage_error("--by: at most %d tables", MAX_BY);
	char *col;
	cxr_parse_by(arg, &col, &cl->width[cl->nby]);
	cl->by[cl->nby++] = col;
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	struct cmdline cl = {0};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	enum { OPT_SVG = 256, OPT_LABEL, OPT_TITLE, OPT_REF };
	static const struct option longs[] = {
		{"by", required_argument, 0, 'b'}, {"threshold", required_argument, 0, 't'},
		{"svg", required_argument, 0, OPT_SVG}, {"label", required_argument, 0, OPT_LABEL},
		{"title", required_argument, 0, OPT_TITLE}, {"reference", required_argument, 0, OPT_REF},
		{"output", required_argument, 0, 'o'}, CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "b:t:o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 'b': add_by(&cl, optarg); break;
		case 't':
			if (cxr_threshold_rule_parse(optarg, &cl.thr))
				cxr_usage_error("--threshold: %s", cxr_errmsg());
			break;
		case OPT_SVG: cl.svg = optarg; break;
		case OPT_LABEL: cl.label = optarg; break;
		case OPT_TITLE: cl.title = optarg; break;
		case OPT_REF: cl.reference = optarg; break;
		case 'o': cl.out = optarg; break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	cl.quiet = co.quiet; /* -j is accepted; the tables take no threads */
	argc -= optind, argv += optind;
	if (argc > 1)
		cxr_usage_error("give one scores file");
	if (!cl.nby) {
		add_by(&cl, "sex");
		add_by(&cl, "age:10");
	}

	if (cl.reference && !strcmp(cl.reference, "-") && (!argc || !strcmp(argv[0], "-")))
		cxr_usage_error("the scores and --reference cannot both be the standard input");
	cxr_refstd ref;
	if (cl.reference && cxr_refstd_load(&ref, cl.reference, cl.label))
		cxr_die_err();

	/* With a reference the scores' own label column plays no part. */
	cxr_scores s;
	cxr_scores_opt so = {.label_col = cl.label, .group_cols = cl.by, .ngroup = cl.nby,
			     .want_image = cl.reference != NULL, .no_label = cl.reference != NULL};
	if (cxr_scores_load(&s, argc ? argv[0] : NULL, &so))
		cxr_die_err();
	if (cl.reference) {
		cxr_refstd_join j;
		if (cxr_refstd_join_scores(&s, &ref, &j))
			cxr_die_err();
		if (!cl.quiet) {
			char msg[1024];
			cxr_refstd_describe(msg, sizeof msg, &s, &ref, &j);
			cxr_warn("%s", msg);
		}
	}
	if (cxr_scores_need_both(&s))
		cxr_die_err();
	if (s.skipped && !cl.quiet)
		cxr_warn("%s: skipped %ld rows whose %s is '-'", s.path, s.skipped,
			 cl.label ? cl.label : "label");
	cxr_roc roc;
	if (cxr_roc_build(&roc, s.score, s.label, s.n))
		cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
	double t = cxr_threshold_choose(&cl.thr, &roc, s.threshold);
	cxr_roc_free(&roc);

	cxr_group_stats all;
	if (cxr_group_eval(s.score, s.label, s.n, t, &all))
		cxr_die_err();
	cxr_group_gaps(&all, &all);

	/* Every table first: a bad value (--by sex:10 on a text column) fails
	 * before a line is written. */
	cxr_group_table *tables = cxr_xcalloc((size_t)cl.nby, sizeof *tables);
	for (int b = 0; b < cl.nby; b++) {
		cxr_group_table *q = &tables[b];
		if (cxr_group_table_build(q, &s, b, cl.by[b], cl.width[b], t, &all))
			cxr_die_err();
		if (q->ngroups == 1 && !strcmp(q->key[0], "-"))
			cxr_warn("%s: --by %s: every row's %s is '-' (unknown); was the column "
				 "missing or empty in the manifest?", s.path, cl.by[b], cl.by[b]);
	}

	cxr_out *o = cxr_out_open(cl.out, 0);
	FILE *f = cxr_out_file(o);
	fputs("column\tgroup\tn\tpositives\tauc\tci_low\tci_high\terror_rate\ttpr\tfpr\t"
	      "tpr_gap\tfpr_gap\ttpr_gap_low\ttpr_gap_high\tfpr_gap_low\tfpr_gap_high\tsmall\t"
	      "group_label\n", f);
	print_row(f, "all", "all", "all", &all);
	for (int b = 0; b < cl.nby; b++) {
		const cxr_group_table *q = &tables[b];
		for (int k = 0; k < q->ngroups; k++) {
			const cxr_group_stats *r = &q->g[k];
			if ((!r->pos || r->pos == r->n) && !cl.quiet)
				cxr_warn("%s %s: %ld rows, all %s; no AUC", cl.by[b], q->key[k], r->n,
					 r->pos ? "positive" : "negative");
			else if (isnan(r->auc_lo) && !cl.quiet)
				cxr_warn("%s %s: %ld positives, %ld negatives; no DeLong CI with "
					 "fewer than 2 of a class", cl.by[b], q->key[k], r->pos, r->neg);
			print_row(f, cl.by[b], q->key[k], q->label[k], r);
		}
	}
	cxr_out_commit(o);

	if (cl.svg) {
		char title[600];
		snprintf(title, sizeof title, "Performance by group: %s%s%s%s%s%s",
			 cxr_report_base_name(argc ? argv[0] : NULL),
			 cl.reference ? " against " : "",
			 cl.reference ? cxr_report_base_name(cl.reference) : "",
			 s.model ? " (model " : "", s.model ? s.model : "", s.model ? ")" : "");
		cxr_out *so2 = cxr_out_open(cl.svg, 0);
		if (cxr_report_bias_svg(cxr_out_file(so2), cl.title ? cl.title : title, &all, t,
					tables, cl.nby, CXR_PANEL_ALL | CXR_PANEL_CAPTION, 0))
			cxr_die(CXR_EXIT_DATA, "%s: write error", cl.svg);
		cxr_out_commit(so2);
	}
	for (int b = 0; b < cl.nby; b++) {
		cxr_group_table_free(&tables[b]);
		free((char *)cl.by[b]);
	}
	free(tables);
	cxr_scores_free(&s);
	if (cl.reference)
		cxr_refstd_free(&ref);
	return 0;
}
