/* cxr-roc — a scores TSV's ROC curve, AUC with a 95% confidence interval,
 * and the error rates at the decision threshold; with two scores files
 * of the same images, DeLong's paired test of their AUCs. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/options.h"
#include "eval/metrics.h"
#include "eval/refstd.h"
#include "eval/report.h"
#include "eval/scores_file.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-roc [options] [SCORES|-]\n"
		"       cxr-roc [options] SCORES_A SCORES_B    DeLong's paired test\n"
		"\n"
		"  -t, --threshold T   decision threshold: a number, youden or sens=X\n"
		"                      (default: the scores' threshold column, else 0.5)\n"
		"      --ci METHOD     AUC interval: delong (default) or bootstrap\n"
		"      --reps N        bootstrap replicates (default 2000)\n"
		"      --seed S        bootstrap seed (default 1)\n"
		"      --points        print the ROC curve (threshold fpr tpr) instead\n"
		"      --calibration   add the ECE and a 10-bin reliability table\n"
		"      --svg FILE      plot the ROC curve into FILE\n"
		"      --title TEXT    the plot's title (default: ROC curve: FILE's name)\n"
		"      --label COLUMN  evaluate against this column (default label)\n"
		"      --reference FILE  evaluate against FILE's labels instead, joined by\n"
		"                      image: IMAGE LABEL lines, or a TSV with image and\n"
		"                      label columns (--label then names FILE's column)\n"
		"  -o, --output FILE   write the table to FILE (whole or not at all)\n"
		"  -j, --jobs N        threads for the bootstrap (default: all cores;\n"
		"                      --threads is the same)\n"
		"  -q, --quiet         no notes on stderr\n"
		"      --help, --version\n");
}

struct cmdline {
	cxr_threshold_rule thr;
	int bootstrap, points, calibration, quiet, jobs, thr_given;
	long reps;
	uint64_t seed;
	const char *svg, *label, *out, *title, *reference;
	cxr_refstd ref; /* with --reference */
};

static void row(FILE *f, const char *metric, double v, double lo, double hi)
{
	char a[32], b[32], c[32];
	fprintf(f, "%s\t%s\t%s\t%s\n", metric, cxr_fmt_num(a, v), cxr_fmt_num(b, lo),
		cxr_fmt_num(c, hi));
}

static void row_count(FILE *f, const char *metric, long v)
{
	fprintf(f, "%s\t%ld\t-\t-\n", metric, v);
}

/* A proportion k/n with Wilson's 95% interval; "-" when n = 0. */
static void row_prop(FILE *f, const char *metric, long k, long n)
{
	double lo, hi;
	cxr_wilson(k, n, CXR_Z95, &lo, &hi);
	row(f, metric, n ? (double)k / n : NAN, lo, hi);
}

static void load(cxr_scores *s, const char *path, const struct cmdline *cl, int want_image)
{
	/* With a reference the scores' own label column plays no part. */
	cxr_scores_opt o = {.label_col = cl->label, .want_image = want_image || cl->reference,
			    .no_label = cl->reference != NULL};
	if (cxr_scores_load(s, path, &o))
		cxr_die_err();
	if (cl->reference) {
		cxr_refstd_join j;
		if (cxr_refstd_join_scores(s, &cl->ref, &j))
			cxr_die_err();
		if (!cl->quiet) {
			char msg[1024];
			cxr_refstd_describe(msg, sizeof msg, s, &cl->ref, &j);
			cxr_warn("%s", msg);
		}
	}
	if (cxr_scores_need_both(s))
		cxr_die_err();
	if (s->skipped && !cl->quiet)
		cxr_warn("%s: skipped %ld rows whose %s is '-'", s->path, s->skipped,
			 cl->label ? cl->label : "label");
}

/* The plot, through report.h so that cxr-report draws the same. */
static void write_svg(const char *path, const char *title, const char *note,
		      const cxr_report_curve *c, int n)
{
	cxr_out *o = cxr_out_open(path, 0);
	if (cxr_report_roc_svg(cxr_out_file(o), title, note, c, n, 0))
		cxr_die(CXR_EXIT_DATA, "%s: write error", path);
	cxr_out_commit(o);
}

static void one(const char *path, const struct cmdline *cl, FILE *f)
{
	cxr_scores s;
	load(&s, path, cl, 0);
	cxr_roc roc;
	cxr_auc a;
	if (cxr_roc_build(&roc, s.score, s.label, s.n))
		cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
	cxr_auc_from_roc(&roc, &a);
	if (cl->points) {
		fputs("threshold\tfpr\ttpr\n", f);
		for (size_t k = 0; k < roc.npoints; k++) {
			char x[32], y[32], z[32];
			fprintf(f, "%s\t%s\t%s\n", cxr_fmt_num(x, roc.p[k].threshold),
				cxr_fmt_num(y, roc.p[k].fpr), cxr_fmt_num(z, roc.p[k].tpr));
		}
	}
	double lo = NAN, hi = NAN;
	if (cl->points && !cl->svg) {
		/* the curve alone needs no interval */
	} else if (cl->bootstrap) {
		if (cxr_auc_bootstrap(s.score, s.label, s.n, cl->reps, cl->seed, 0.95, cl->jobs,
				      &lo, &hi, NULL))
			cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
	} else {
		cxr_auc_ci(&a, CXR_Z95, &lo, &hi);
	}
	double t = cxr_threshold_choose(&cl->thr, &roc, s.threshold);
	cxr_confusion c;
	cxr_confusion_at(s.score, s.label, s.n, t, &c);
	if (!cl->points) {
		fputs("metric\tvalue\tci_low\tci_high\n", f);
		row_count(f, "n", (long)s.n);
		row_count(f, "positives", a.pos);
		row(f, "auc", a.auc, lo, hi);
		row(f, "threshold", t, NAN, NAN);
		row_prop(f, "error_rate", c.fp + c.fn, (long)s.n);
		row_prop(f, "sensitivity", c.tp, c.tp + c.fn);
		row_prop(f, "specificity", c.tn, c.tn + c.fp);
		row_prop(f, "ppv", c.tp, c.tp + c.fp);
		row_prop(f, "npv", c.tn, c.tn + c.fn);
	}
	if (cl->calibration) {
		cxr_calbin bins[10];
		double ece;
		if (cxr_calibration(s.score, s.label, s.n, 10, bins, &ece))
			cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
		row(f, "ece", ece, NAN, NAN);
		fputs("\nbin_low\tbin_high\tn\tmean_score\tfraction_positive\tci_low\tci_high\n", f);
		for (int b = 0; b < 10; b++) {
			double wl, wh;
			char x[32], y[32], z[32], u[32], v[32], w[32];
			cxr_wilson(bins[b].pos, bins[b].n, CXR_Z95, &wl, &wh);
			fprintf(f, "%s\t%s\t%ld\t%s\t%s\t%s\t%s\n", cxr_fmt_num(x, bins[b].lo),
				cxr_fmt_num(y, bins[b].hi), bins[b].n, cxr_fmt_num(z, bins[b].mean_score),
				cxr_fmt_num(u, bins[b].n ? (double)bins[b].pos / bins[b].n : NAN),
				cxr_fmt_num(v, wl), cxr_fmt_num(w, wh));
		}
	}
	if (cl->svg) {
		char title[300], how[300], note[600];
		const char *name = cxr_report_base_name(path);
		snprintf(title, sizeof title, "ROC curve: %s%s%s", name,
			 cl->reference ? " against " : "",
			 cl->reference ? cxr_report_base_name(cl->reference) : "");
		cxr_threshold_describe(how, sizeof how, &cl->thr, s.threshold);
		snprintf(note, sizeof note, "AUC interval: %s. Threshold: %s.%s%s%s",
			 cl->bootstrap ? "stratified bootstrap" : "DeLong's", how,
			 cl->reference ? " Labels: " : "",
			 cl->reference ? cxr_report_base_name(cl->reference) : "",
			 cl->reference ? ", joined by image." : "");
		cxr_report_curve cv = {name, s.model, &roc, a.auc, lo, hi, t, c};
		write_svg(cl->svg, cl->title ? cl->title : title, note, &cv, 1);
	}
	cxr_roc_free(&roc);
	cxr_scores_free(&s);
}

/* Two scorings of the same images: each AUC and DeLong's paired test. */
static void two(const char *pa, const char *pb, const struct cmdline *cl, FILE *f)
{
	cxr_scores a, b;
	load(&a, pa, cl, 1);
	load(&b, pb, cl, 1);
	size_t *bi = cxr_xmalloc(a.n * sizeof *bi);
	if (cxr_scores_match(&a, &b, bi))
		cxr_die_err();
	if (a.model && b.model && !strcmp(a.model, b.model) && !cl->quiet)
		cxr_warn("%s and %s are both from model %s", a.path, b.path, a.model);
	double *sb = cxr_xmalloc(a.n * sizeof *sb);
	for (size_t i = 0; i < a.n; i++)
		sb[i] = b.score[bi[i]];
	cxr_delong_test t;
	if (cxr_delong_paired(a.score, sb, a.label, a.n, &t))
		cxr_die(CXR_EXIT_DATA, "%s: %s", a.path, cxr_errmsg());
	double la, ha, lb, hb;
	cxr_auc_ci(&t.a, CXR_Z95, &la, &ha);
	cxr_auc_ci(&t.b, CXR_Z95, &lb, &hb);
	fputs("metric\tvalue\tci_low\tci_high\n", f);
	row_count(f, "n", (long)a.n);
	row_count(f, "positives", t.a.pos);
	row(f, "auc_a", t.a.auc, la, ha);
	row(f, "auc_b", t.b.auc, lb, hb);
	row(f, "auc_diff", t.diff, fmax(-1, t.diff - CXR_Z95 * t.se),
	    fmin(1, t.diff + CXR_Z95 * t.se));
	row(f, "z", t.z, NAN, NAN);
	row(f, "p_value", t.p, NAN, NAN);
	if (cl->svg) {
		cxr_roc ra, rb;
		if (cxr_roc_build(&ra, a.score, a.label, a.n) ||
		    cxr_roc_build(&rb, sb, a.label, a.n))
			cxr_die_err();
		/* Each model at its own stored threshold (else 0.5). */
		cxr_threshold_rule stored = {CXR_THR_STORED, 0};
		double ta = cxr_threshold_choose(&stored, &ra, a.threshold);
		double tb = cxr_threshold_choose(&stored, &rb, b.threshold);
		cxr_confusion ca, cb;
		cxr_confusion_at(a.score, a.label, a.n, ta, &ca);
		cxr_confusion_at(sb, a.label, a.n, tb, &cb);
		const char *na = cxr_report_base_name(pa), *nb = cxr_report_base_name(pb);
		char title[300], note[600];
		snprintf(title, sizeof title, "ROC curves: %s vs %s", na, nb);
		if (isnan(t.se))
			snprintf(note, sizeof note, "The same images in both. AUC difference %.3f "
				 "(no DeLong test: too few of a class). ", t.diff);
		else
			snprintf(note, sizeof note, "The same images in both. AUC difference %.3f "
				 "(95%% CI %.3f\xe2\x80\x93%.3f), DeLong's paired test p = %.3g. ",
				 t.diff, fmax(-1, t.diff - CXR_Z95 * t.se),
				 fmin(1, t.diff + CXR_Z95 * t.se), t.p);
		snprintf(note + strlen(note), sizeof note - strlen(note), "Each operating point at "
			 "its file's threshold column, else 0.5.");
		cxr_report_curve cv[2] = {{na, a.model, &ra, t.a.auc, la, ha, ta, ca},
					  {nb, b.model, &rb, t.b.auc, lb, hb, tb, cb}};
		write_svg(cl->svg, cl->title ? cl->title : title, note, cv, 2);
		cxr_roc_free(&ra);
		cxr_roc_free(&rb);
	}
	free(sb);
	free(bi);
	cxr_scores_free(&a);
	cxr_scores_free(&b);
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	struct cmdline cl = {.reps = 2000, .seed = 1};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	enum { OPT_CI = 256, OPT_REPS, OPT_SEED, OPT_POINTS, OPT_CAL, OPT_SVG, OPT_LABEL, OPT_TITLE,
	       OPT_REF };
	static const struct option longs[] = {
		{"threshold", required_argument, 0, 't'}, {"ci", required_argument, 0, OPT_CI},
		{"reps", required_argument, 0, OPT_REPS}, {"seed", required_argument, 0, OPT_SEED},
		{"points", no_argument, 0, OPT_POINTS}, {"calibration", no_argument, 0, OPT_CAL},
		{"svg", required_argument, 0, OPT_SVG}, {"label", required_argument, 0, OPT_LABEL},
		{"title", required_argument, 0, OPT_TITLE},
		{"reference", required_argument, 0, OPT_REF},
		{"output", required_argument, 0, 'o'}, CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "t:o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cxr_threshold_rule_parse(optarg, &cl.thr))
				cxr_usage_error("--threshold: %s", cxr_errmsg());
			cl.thr_given = 1;
			break;
		case OPT_CI:
			if (strcmp(optarg, "delong") && strcmp(optarg, "bootstrap"))
				cxr_usage_error("--ci: '%s' is not delong or bootstrap", optarg);
			cl.bootstrap = !strcmp(optarg, "bootstrap");
			break;
		case OPT_REPS: cl.reps = cxr_parse_long("--reps", optarg, 1, 10000000); break;
		case OPT_SEED: cl.seed = (uint64_t)cxr_parse_long("--seed", optarg, 0, LONG_MAX); break;
		case OPT_POINTS: cl.points = 1; break;
		case OPT_CAL: cl.calibration = 1; break;
		case OPT_SVG: cl.svg = optarg; break;
		case OPT_LABEL: cl.label = optarg; break;
		case OPT_TITLE: cl.title = optarg; break;
		case OPT_REF: cl.reference = optarg; break;
		case 'o': cl.out = optarg; break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	cl.jobs = co.jobs;
	cl.quiet = co.quiet;
	argc -= optind, argv += optind;
	if (argc > 2)
		cxr_usage_error("give one scores file, or two to compare");
	if (cl.points && cl.calibration)
		cxr_usage_error("--points and --calibration print different tables; give one");
	if (argc == 2 && (cl.points || cl.calibration || cl.thr_given || cl.bootstrap))
		cxr_usage_error("with two scores files only the paired DeLong test is done; "
				"--points, --calibration, --threshold and --ci bootstrap apply to one");
	if (argc == 2 && !strcmp(argv[0], "-") && !strcmp(argv[1], "-"))
		cxr_usage_error("only one of the two files can be stdin");
	if (cl.reference && !strcmp(cl.reference, "-") &&
	    (!argc || !strcmp(argv[0], "-") || (argc == 2 && !strcmp(argv[1], "-"))))
		cxr_usage_error("the scores and --reference cannot both be the standard input");
	if (cl.reference && cxr_refstd_load(&cl.ref, cl.reference, cl.label))
		cxr_die_err();
	cxr_out *o = cxr_out_open(cl.out, 0);
	if (argc == 2)
		two(argv[0], argv[1], &cl, cxr_out_file(o));
	else
		one(argc ? argv[0] : NULL, &cl, cxr_out_file(o));
	cxr_out_commit(o);
	if (cl.reference)
		cxr_refstd_free(&cl.ref);
	return 0;
}
