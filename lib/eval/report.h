/* report — what a reader of an evaluation sees: the plots cxr-roc and
 * cxr-bias draw (built here once, so the tools and the HTML report show
 * the same picture), the words for how a threshold was chosen, and the
 * HTML report of cxr-report: one self-contained page (inline SVG, inline
 * style, no script, nothing fetched) with the headline figures, the ROC
 * curve, a reliability diagram, the tables and plots by group, and the
 * provenance of every number.
 *
 * The page is well-formed XML as well as HTML (void elements closed,
 * only XML's five entities), so an XML parser checks it. Every number of
 * a table carries its exact value in a data-v attribute (the tools'
 * format, cxr_fmt_num) beside the 3 decimals shown; a row of the metrics
 * table has data-metric (cxr-roc's metric names), a row of a group table
 * data-column and data-group (cxr-bias's columns and keys), a cell
 * data-k (the TSV's column name). */
#ifndef CXR_REPORT_H
#define CXR_REPORT_H
#include <stdio.h>

#include "eval/groupeval.h"
#include "eval/metrics.h"

/* How the threshold t was chosen, for captions and the report:
 * "the model's (from the scores' threshold column)", "0.5, the default
 * (no threshold column)", "given (--threshold)", "Youden's J on these
 * scores", "the highest threshold reaching sensitivity 0.9 on these
 * scores". stored is the scores' threshold column (NaN: none). */
void cxr_threshold_describe(char *buf, size_t cap, const cxr_threshold_rule *r, double stored);

/* A file's name without its folders, for titles and legends ("stdin" for
 * NULL or "-"). */
const char *cxr_report_base_name(const char *path);

/* One curve of a ROC plot: the file's name and the model's digest (NULL:
 * none) for the legend, the AUC and its interval, the operating point's
 * threshold and counts. */
typedef struct cxr_report_curve {
	const char *name, *model;
	const cxr_roc *roc;
	double auc, lo, hi;
	double thr;
	cxr_confusion c;
} cxr_report_curve;

/* The ROC plot of one or two curves: legends that name the file and the
 * model, the AUC with its interval, the operating point on each curve
 * with its sensitivity and specificity, and a caption giving n, the
 * positives and negatives, then note (NULL: none). */
int cxr_report_roc_svg(FILE *f, const char *title, const char *note,
		       const cxr_report_curve *c, int n, int flags);

/* Which panels of the group plot, and whether a caption explains them: */
enum {
	CXR_PANEL_AUC = 1, CXR_PANEL_TPR = 2, CXR_PANEL_FPR = 4, CXR_PANEL_ALL = 7,
	CXR_PANEL_CAPTION = 8
};

/* The forest plot of cxr-bias: the whole population, then a section per
 * table, a row per group with its n; panels side by side: AUC with
 * DeLong's interval around the chance line and the population's AUC, TPR
 * gap and FPR gap with their intervals around 0. Small groups are hollow
 * and grey, and the caption says so; their wide intervals may run off
 * the panel (arrowheads) rather than squeeze the others. */
int cxr_report_bias_svg(FILE *f, const char *title, const cxr_group_stats *all, double thr,
			const cxr_group_table *t, int nt, int panels, int flags);

/* A key and its value (model metadata, provenance lines). */
typedef struct cxr_kv {
	const char *key, *value;
} cxr_kv;

typedef struct cxr_report {
	const char *title;
	/* the scores file */
	const char *scores_path;   /* as given; "stdin" for - */
	char scores_sha256[65];
	long scores_bytes, skipped;
	const char *label_col;     /* "label" or --label */
	const char *model;         /* the scores' model column; NULL: none */
	/* the whole test set at the threshold */
	const cxr_roc *roc;
	const cxr_group_stats *all;
	double thr;
	const char *thr_source;    /* cxr_threshold_describe */
	int thr_stored;            /* the model's own threshold was used */
	/* calibration: nbins 0 when the scores are not in [0, 1] */
	const cxr_calbin *bins;
	int nbins;
	double ece;
	/* groups */
	const cxr_group_table *tables;
	int ntables;
	/* the model file (-m): path and metadata; NULL, 0 without */
	const char *model_path;
	const cxr_kv *meta;
	int nmeta;
	/* the validation manifest (--val): labelled images and positives; -1: not given */
	const char *val_path;
	long val_n, val_pos;
	/* provenance: the lines of --provenance and --command, in order */
	const cxr_kv *prov;
	int nprov;
	const char *self_command;  /* this run's command line */
	const char *version;       /* "cxr-report 0.1.0" */
	const char *date;          /* "2026-11-29T10:00:00Z" */
} cxr_report;

/* Writes the page. 0, or -1 on a write error (or a plot that fails). */
int cxr_report_html(FILE *f, const cxr_report *r);

#endif
