/* svg — small standalone SVG plots for the evaluation tools: ROC curves
 * and bar charts with whiskers. The output is one self-contained file a
 * browser shows (no scripts, no external fonts or styles). The caller
 * opens and commits the file (cxr_out_open) so it appears whole. */
#ifndef CXR_SVG_H
#define CXR_SVG_H
#include <stddef.h>
#include <stdio.h>

#include "eval/metrics.h"

/* One ROC curve: its points (fpr, tpr used), a legend line, and an
 * operating point drawn as a dot (NaN: none). */
typedef struct cxr_svg_curve {
	const cxr_roc_point *p; /* (np) */
	size_t np;
	const char *label;
	double op_fpr, op_tpr;
} cxr_svg_curve;

/* Curves over the unit square with the chance diagonal and a legend.
 * Points closer than a quarter pixel to the last drawn one are skipped,
 * so a million-point curve stays a small file. 0, or -1 on write error. */
int cxr_svg_roc(FILE *f, const char *title, const cxr_svg_curve *c /* (n) */, int n);

/* A bar from the panel's base line to value, with a whisker lo..hi
 * (NaN: none); a NaN value draws "n/a". */
typedef struct cxr_svg_bar {
	const char *label;
	double value, lo, hi;
} cxr_svg_bar;

/* A panel: bars over the y range [ymin, ymax], bars rising from base,
 * and a dashed reference line at ref (NaN: none). */
typedef struct cxr_svg_panel {
	const char *title;
	double ymin, ymax, base, ref;
	const cxr_svg_bar *bars; /* (nbars) */
	int nbars;
} cxr_svg_panel;

/* Panels stacked vertically, sharing the bar labels' layout. */
int cxr_svg_bars(FILE *f, const char *title, const cxr_svg_panel *p /* (n) */, int n);

#endif
