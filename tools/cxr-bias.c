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
#include "eval/svg.h"

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
		"      --svg FILE      bar chart of AUC (95%% CI) and TPR gap per group\n"
		"      --label COLUMN  evaluate against this column (default label)\n"
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
	const char *svg, *label, *out;
};

/* One group's figures at the common threshold t. */
typedef struct grow {
	long n, pos;
	cxr_auc auc;
	double lo, hi, err, tpr, fpr;
} grow;

static void eval(grow *g, const double *score, const int *label, size_t n, double t)
{
	cxr_confusion c;
	if (cxr_auc_delong(score, label, n, &g->auc))
		cxr_die_err();
	cxr_auc_ci(&g->auc, CXR_Z95, &g->lo, &g->hi);
	cxr_confusion_at(score, label, n, t, &c);
	g->n = (long)n;
	g->pos = g->auc.pos;
	g->err = n ? (double)(c.fp + c.fn) / n : NAN;
	g->tpr = c.tp + c.fn ? (double)c.tp / (c.tp + c.fn) : NAN;
	g->fpr = c.fp + c.tn ? (double)c.fp / (c.fp + c.tn) : NAN;
}

static void print_row(FILE *f, const char *col, const char *group, const grow *g,
		      const grow *all)
{
	char b[8][32];
	fprintf(f, "%s\t%s\t%ld\t%ld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", col, group, g->n, g->pos,
		cxr_fmt_num(b[0], g->auc.auc), cxr_fmt_num(b[1], g->lo), cxr_fmt_num(b[2], g->hi),
		cxr_fmt_num(b[3], g->err), cxr_fmt_num(b[4], g->tpr), cxr_fmt_num(b[5], g->fpr),
		cxr_fmt_num(b[6], g->tpr - all->tpr), cxr_fmt_num(b[7], g->fpr - all->fpr));
}

/* Parses COLUMN[:WIDTH]. */
static void add_by(struct cmdline *cl, const char *arg)
{
	if (cl->nby == MAX_BY)
		cxr_usage_error("--by: at most %d tables", MAX_BY);
	char *s = cxr_xstrdup(arg), *colon = strrchr(s, ':');
	double w = 0;
	if (colon) {
		*colon = 0;
		w = cxr_parse_double("--by", colon + 1, 1e-9, 1e12);
	}
	if (!*s)
		cxr_usage_error("--by: '%s' names no column", arg);
	cl->by[cl->nby] = s;
	cl->width[cl->nby++] = w;
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	struct cmdline cl = {0};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	enum { OPT_SVG = 256, OPT_LABEL };
	static const struct option longs[] = {
		{"by", required_argument, 0, 'b'}, {"threshold", required_argument, 0, 't'},
		{"svg", required_argument, 0, OPT_SVG}, {"label", required_argument, 0, OPT_LABEL},
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

	cxr_scores s;
	cxr_scores_opt so = {.label_col = cl.label, .group_cols = cl.by, .ngroup = cl.nby};
	if (cxr_scores_load(&s, argc ? argv[0] : NULL, &so) || cxr_scores_need_both(&s))
		cxr_die_err();
	if (s.skipped && !cl.quiet)
		cxr_warn("%s: skipped %ld rows whose %s is '-'", s.path, s.skipped,
			 cl.label ? cl.label : "label");
	cxr_roc roc;
	if (cxr_roc_build(&roc, s.score, s.label, s.n))
		cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
	double t = cxr_threshold_choose(&cl.thr, &roc, s.threshold);
	cxr_roc_free(&roc);

	/* Every table's groups first: a bad value (--by sex:10 on a text
	 * column) fails before a line is written. */
	cxr_groups *groups = cxr_xcalloc((size_t)cl.nby, sizeof *groups);
	for (int b = 0; b < cl.nby; b++) {
		if (cxr_groups_build(&groups[b], &s, b, cl.by[b], cl.width[b]))
			cxr_die_err();
		if (groups[b].ngroups == 1 && !strcmp(groups[b].names[0], "-"))
			cxr_warn("%s: --by %s: every row's %s is '-' (unknown); was the column "
				 "missing or empty in the manifest?", s.path, cl.by[b], cl.by[b]);
	}

	cxr_out *o = cxr_out_open(cl.out, 0);
	FILE *f = cxr_out_file(o);
	fputs("column\tgroup\tn\tpositives\tauc\tci_low\tci_high\terror_rate\ttpr\tfpr\t"
	      "tpr_gap\tfpr_gap\n", f);
	grow all;
	eval(&all, s.score, s.label, s.n, t);
	print_row(f, "all", "all", &all, &all);

	/* Bars for the plot: one per group of every table. */
	size_t nbar = 0, capbar = 16;
	cxr_svg_bar *abar = cxr_xmalloc(capbar * sizeof *abar);
	cxr_svg_bar *gbar = cxr_xmalloc(capbar * sizeof *gbar);
	double gapmax = 0.05, aucmin = 0.5;
	double *gs = cxr_xmalloc(s.n * sizeof *gs);
	int *gl = cxr_xmalloc(s.n * sizeof *gl);
	for (int b = 0; b < cl.nby; b++) {
		cxr_groups g = groups[b];
		/* Rows regrouped by a counting sort, so many groups stay O(n). */
		size_t *start = cxr_xcalloc(g.ngroups + 1, sizeof *start);
		for (size_t i = 0; i < s.n; i++)
			start[g.id[i] + 1]++;
		for (int k = 0; k < g.ngroups; k++)
			start[k + 1] += start[k];
		size_t *fill = cxr_xmalloc((g.ngroups + 1) * sizeof *fill);
		memcpy(fill, start, (g.ngroups + 1) * sizeof *fill);
		for (size_t i = 0; i < s.n; i++) {
			size_t j = fill[g.id[i]]++;
			gs[j] = s.score[i];
			gl[j] = s.label[i];
		}
		free(fill);
		for (int k = 0; k < g.ngroups; k++) {
			grow r;
			eval(&r, gs + start[k], gl + start[k], start[k + 1] - start[k], t);
			if ((!r.pos || r.pos == r.n) && !cl.quiet)
				cxr_warn("%s %s: %ld rows, all %s; no AUC", cl.by[b], g.names[k], r.n,
					 r.pos ? "positive" : "negative");
			else if (isnan(r.lo) && !cl.quiet)
				cxr_warn("%s %s: %ld positives, %ld negatives; no DeLong CI with "
					 "fewer than 2 of a class", cl.by[b], g.names[k], r.pos,
					 r.n - r.pos);
			print_row(f, cl.by[b], g.names[k], &r, &all);
			if (nbar == capbar) {
				capbar *= 2;
				abar = cxr_xrealloc(abar, capbar * sizeof *abar);
				gbar = cxr_xrealloc(gbar, capbar * sizeof *gbar);
			}
			char *name = cxr_xmalloc(strlen(cl.by[b]) + strlen(g.names[k]) + 2);
			sprintf(name, "%s %s", cl.by[b], g.names[k]);
			abar[nbar] = (cxr_svg_bar){name, r.auc.auc, r.lo, r.hi};
			gbar[nbar++] = (cxr_svg_bar){name, r.tpr - all.tpr, NAN, NAN};
			if (!isnan(r.lo))
				aucmin = fmin(aucmin, r.lo);
			if (!isnan(r.auc.auc))
				aucmin = fmin(aucmin, r.auc.auc);
			if (!isnan(r.tpr))
				gapmax = fmax(gapmax, fabs(r.tpr - all.tpr));
		}
		free(start);
		cxr_groups_free(&g);
	}
	cxr_out_commit(o);

	if (cl.svg) {
		char at[64], gt[96], title[600];
		snprintf(at, sizeof at, "AUC with 95%% CI (dashed: all, %.3f)", all.auc.auc);
		snprintf(gt, sizeof gt, "TPR gap: group minus all (all: %.3f at threshold %.4g)",
			 all.tpr, t);
		snprintf(title, sizeof title, "Performance by group: %s%s", s.path,
			 s.model ? " (model " : "");
		if (s.model)
			snprintf(title + strlen(title), sizeof title - strlen(title), "%.64s)", s.model);
		double top = ceil(gapmax * 10) / 10;
		cxr_svg_panel p[2] = {
			{at, floor(aucmin * 10) / 10, 1, floor(aucmin * 10) / 10, all.auc.auc, abar,
			 (int)nbar},
			{gt, -top, top, 0, NAN, gbar, (int)nbar}};
		cxr_out *so2 = cxr_out_open(cl.svg, 0);
		if (cxr_svg_bars(cxr_out_file(so2), title, p, 2))
			cxr_die(CXR_EXIT_DATA, "%s: write error", cl.svg);
		cxr_out_commit(so2);
	}
	for (size_t i = 0; i < nbar; i++)
		free((char *)abar[i].label);
	free(abar);
	free(gbar);
	free(gs);
	free(gl);
	for (int b = 0; b < cl.nby; b++)
		free((char *)cl.by[b]);
	free(groups);
	cxr_scores_free(&s);
	return 0;
}
