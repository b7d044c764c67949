/* svg — small SVG plots for the evaluation tools and the HTML report: ROC
 * curves with their operating points, a reliability diagram, and forest
 * plots (one row per group, a point with its interval, reference lines).
 * The output is self-contained: no scripts, no external fonts, styles or
 * ids, so several plots can sit in one HTML page. Text is UTF-8; long
 * titles, legends and captions are wrapped at word boundaries, and a word
 * too long for a line is shortened in its middle ("…"). The caller opens
 * and commits the file (cxr_out_open) so it appears whole. */
#ifndef CXR_SVG_H
#define CXR_SVG_H
#include <stddef.h>
#include <stdio.h>

#include "eval/metrics.h"

/* flags of every plot */
enum {
	CXR_SVG_INLINE = 1, /* for inside HTML: no XML declaration or namespace */
};

/* One ROC curve: its points (fpr, tpr used); a legend of a label (what
 * was scored: file and model) and a detail line (the AUC), both may hold
 * '\n' for more lines; an operating point drawn as a dot with guides to
 * the axes (NaN: none) and, if op_label is not NULL, that text beside it. */
typedef struct cxr_svg_curve {
	const cxr_roc_point *p; /* (np) */
	size_t np;
	const char *label, *detail;
	double op_fpr, op_tpr;
	const char *op_label;
} cxr_svg_curve;

/* Curves over the unit square with the chance diagonal; the legend below
 * the plot, so it never covers a curve; the caption (NULL: none, e.g.
 * "n = 800: 319 abnormal, 481 normal") under it. Points closer than a
 * quarter pixel to the last drawn one are skipped, so a million-point
 * curve stays a small file. 0, or -1 on a write error. */
int cxr_svg_roc(FILE *f, const char *title, const char *caption, const cxr_svg_curve *c,
		int n, int flags);

/* A reliability diagram: each non-empty bin's fraction positive (with
 * Wilson's 95% interval) over its mean score, the diagonal of perfect
 * calibration, and the number of samples per bin as bars under the plot.
 * Bins with fewer than small_n samples are drawn hollow. */
int cxr_svg_reliability(FILE *f, const char *title, const char *caption,
			const cxr_calbin *bins, int nbins, int small_n, int flags);

/* A forest plot: rows down the page, one column of labels, then one
 * panel per figure side by side. A heading row names a section (the
 * --by column); a hollow row is drawn in grey with an open marker (a
 * small group); note is grey text beside the label (its n). */
typedef struct cxr_svg_row {
	const char *label, *note;
	int heading, hollow;
} cxr_svg_row;

/* A row's estimate and interval (NaN: none); with a NaN value, na is
 * written in the panel instead (e.g. "no AUC: no abnormal"). An interval
 * beyond the panel's range ends in an arrowhead at its edge; an estimate
 * beyond it is a double arrowhead there. */
typedef struct cxr_svg_est {
	double value, lo, hi;
	const char *na;
} cxr_svg_est;

/* One panel: its heading, x range, up to two labelled dashed vertical
 * lines (ref grey, e.g. chance 0.5 or no gap; ref2 red, e.g. the whole
 * population's AUC; NaN: none), and one estimate per row (headings'
 * are ignored). */
typedef struct cxr_svg_panel {
	const char *title;
	double xmin, xmax;
	double ref, ref2;
	const char *ref_label, *ref2_label;
	const cxr_svg_est *est; /* (nrows) */
} cxr_svg_panel;

/* A NULL title draws no heading (the first panel's title names the plot). */
int cxr_svg_forest(FILE *f, const char *title, const char *caption, const cxr_svg_row *rows,
		   int nrows, const cxr_svg_panel *p, int np, int flags);

/* Writes s as XML text (&, <, >, " escaped); NULL writes nothing. */
void cxr_svg_put_text(FILE *f, const char *s);

#endif
