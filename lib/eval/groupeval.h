/* groupeval — a classifier's figures for each group of rows at one
 * threshold common to all, as cxr-bias prints them and cxr-report shows
 * them: size, AUC with DeLong's 95% interval, error rate, TPR and FPR
 * with Wilson's intervals, and their gaps to the whole population with a
 * 95% interval; which groups are too small to read; the label a reader
 * sees for a group key ("0" of --by age:10 is "0–9").
 *
 * The gap of a group's rate p1 (k1 of n1) to the population's,
 * p = (k1 + k2) / (n1 + n2) where the rest holds k2 of n2, is
 * p1 − p = (n2 / N)(p1 − p2): a fixed multiple of the difference between
 * the group and the rest, two independent samples. Its interval is that
 * multiple of Newcombe's hybrid score interval for p1 − p2 (1998, method
 * 10), built from the two Wilson intervals. */
#ifndef CXR_GROUPEVAL_H
#define CXR_GROUPEVAL_H
#include <stddef.h>

#include "eval/metrics.h"
#include "eval/scores_file.h"

/* A group is small, its figures not to be read alone, below these. */
#define CXR_SMALL_N 30     /* rows */
#define CXR_SMALL_CLASS 5  /* positives or negatives */

typedef struct cxr_group_stats {
	long n, pos, neg;
	cxr_auc auc;             /* auc NaN without both classes */
	double auc_lo, auc_hi;   /* DeLong's 95%: NaN with fewer than 2 of a class */
	cxr_confusion c;         /* at the threshold */
	double err, err_lo, err_hi; /* (FP + FN) / n, Wilson */
	double tpr, tpr_lo, tpr_hi; /* TP / pos, Wilson; NaN without positives */
	double fpr, fpr_lo, fpr_hi; /* FP / neg, Wilson; NaN without negatives */
	double tpr_gap, tpr_gap_lo, tpr_gap_hi; /* group minus all; 0 for all */
	double fpr_gap, fpr_gap_lo, fpr_gap_hi;
	int small;               /* n < CXR_SMALL_N or a class < CXR_SMALL_CLASS */
} cxr_group_stats;

/* The figures of rows score/label (n) at threshold t (score >= t is
 * positive); the gaps are 0 (the group is its own population). -1 with
 * a message on a score that is not finite. */
int cxr_group_eval(const double *score, const int *label, size_t n, double t,
		   cxr_group_stats *g);
/* Sets g's gaps and their intervals against the population all, of which
 * g is a part. */
void cxr_group_gaps(cxr_group_stats *g, const cxr_group_stats *all);

/* Newcombe's hybrid score interval for p1 − p2 of independent k1/n1 and
 * k2/n2 (method 10), at normal quantile z; NaN when n1 or n2 is 0. */
void cxr_newcombe_diff(long k1, long n1, long k2, long n2, double z, double *lo,
		       double *hi);
/* The gap of a part's rate k1/n1 to its whole's (k1+k2)/(n1+n2) and its
 * interval (see above): gap NaN when n1 = 0; 0 (interval 0, 0) when the
 * rest is empty. */
void cxr_gap_ci(long k1, long n1, long k2, long n2, double z, double *gap, double *lo,
		double *hi);

/* One table of cxr-bias: the groups of one --by, in cxr_groups_build's
 * order, each with its key (as the TSV prints it), its label (as a reader
 * sees it) and its figures, gaps set against all. */
typedef struct cxr_group_table {
	char *column;  /* the --by column */
	double width;  /* its bucket width, 0 for values */
	int ngroups;
	char **key;    /* (ngroups) "F", "0", "90+", "-" */
	char **label;  /* (ngroups) "F", "0–9", "90+", "unknown" */
	cxr_group_stats *g; /* (ngroups) */
} cxr_group_table;

/* The table of s's group column col (named colname, bucket width or 0) at
 * threshold t. -1 with a message on a value that is not a number under a
 * width. */
int cxr_group_table_build(cxr_group_table *t, const cxr_scores *s, int col,
			  const char *colname, double width, double thr,
			  const cxr_group_stats *all);
void cxr_group_table_free(cxr_group_table *t);

/* The label a reader sees for group key of --by colname[:width]: "-" is
 * "unknown"; a bucket of the column age with a whole width is "a–b" in
 * whole years (b = a + width − 1; "a" alone for width 1); another bucket
 * "[a, b)"; "90+" and plain values stay as they are. UTF-8 into buf. */
void cxr_group_label(char *buf, size_t cap, const char *colname, double width,
		     const char *key);

/* A label for a whole column in headings: "age (years)" for age, else
 * the name. */
const char *cxr_group_column_label(const char *colname);

#endif
