/* metrics — evaluating a binary classifier's scores: the ROC curve, the
 * exact AUC (Mann–Whitney, ties counted half), its variance by DeLong
 * (1988) and DeLong's paired test of two AUCs, the stratified bootstrap,
 * Wilson's (1927) interval for a proportion, threshold rules (Youden's J,
 * a fixed sensitivity) and calibration (ECE over equal-width bins).
 *
 * Conventions: label[i] is 0 or 1; score[i] is finite (functions that
 * sort check it and fail with a message otherwise); a sample is
 * predicted positive when score >= threshold. Everything is O(n log n)
 * (one sort) or O(n); DeLong uses midranks (Sun & Xu 2014), never the
 * quadratic pairwise sum. */
#ifndef CXR_METRICS_H
#define CXR_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* The two-sided 95% normal quantile, Φ⁻¹(0.975). */
#define CXR_Z95 1.959963984540054

/* order[k] = index of the k-th smallest score (ascending, stable for
 * equal scores). Radix sort on the scores' bit patterns; -1 and a message
 * if a score is NaN or infinite. */
int cxr_argsort(const double *score, size_t n, size_t *order /* (n) */);

/* One point of the ROC curve: samples with score >= threshold are
 * called positive; tp and fp count them. */
typedef struct cxr_roc_point {
	double threshold, fpr, tpr;
	long tp, fp;
} cxr_roc_point;

/* The curve over every distinct score, thresholds descending: p[0] is
 * (+inf, 0, 0), then one point per distinct score, the last (min score)
 * at (1, 1). This is scikit-learn's roc_curve(drop_intermediate=False),
 * whose first threshold is max+1 (sklearn < 1.3) or +inf. */
typedef struct cxr_roc {
	cxr_roc_point *p; /* (npoints) */
	size_t npoints;
	long pos, neg;
} cxr_roc;
int cxr_roc_build(cxr_roc *r, const double *score, const int *label, size_t n);
void cxr_roc_free(cxr_roc *r);

/* AUC = P(score of a positive > score of a negative) + ½ P(equal), the
 * Mann–Whitney statistic, with DeLong's variance. var is NaN when a class
 * has fewer than 2 samples; auc is NaN when a class is empty. */
typedef struct cxr_auc {
	double auc, var;
	long pos, neg;
} cxr_auc;
int cxr_auc_delong(const double *score, const int *label, size_t n, cxr_auc *a);
/* The same from a built curve (its points are the tie blocks): O(points). */
void cxr_auc_from_roc(const cxr_roc *r, cxr_auc *a);

/* DeLong's structural components: for each positive i, v[i] = fraction of
 * negatives scored below it (ties half); for each negative j, v[j] =
 * fraction of positives scored above it. mean over positives = AUC. */
int cxr_delong_components(const double *score, const int *label, size_t n,
			  double *v /* (n) */, cxr_auc *a);

/* DeLong's paired test of two scorings of the same samples (same labels):
 * AUCs, their covariance, diff = auc_a - auc_b, z = diff / se and the
 * two-sided p-value. se is NaN (and z, p too) when it cannot be computed. */
typedef struct cxr_delong_test {
	cxr_auc a, b;
	double cov, diff, se, z, p;
} cxr_delong_test;
int cxr_delong_paired(const double *score_a, const double *score_b, const int *label,
		      size_t n, cxr_delong_test *t);

/* AUC ± z·sqrt(var), clipped to [0, 1]; NaN when var is. */
void cxr_auc_ci(const cxr_auc *a, double z, double *lo, double *hi);

/* Two-sided p-value of a standard normal statistic: erfc(|z|/√2). */
double cxr_normal_p2(double z);

/* Stratified bootstrap of the AUC: each of reps replicates draws the
 * positives and the negatives separately, with replacement, keeping the
 * class sizes. Replicate r has its own generator (rng.h) seeded from
 * seed and r, so the result does not depend on the number of threads (nthreads <= 0:
 * OpenMP's default). lo, hi: the (1-level)/2 and (1+level)/2 percentiles
 * of the replicate AUCs (linear interpolation, numpy's default). O(n) per
 * replicate after one sort. aucs (reps), if not NULL, receives them. */
int cxr_auc_bootstrap(const double *score, const int *label, size_t n, long reps,
		      uint64_t seed, double level, int nthreads, double *lo, double *hi,
		      double *aucs);

/* Quantile q of sorted x (n >= 1), linear interpolation between order
 * statistics at position q·(n-1). */
double cxr_quantile_sorted(const double *x, size_t n, double q);

/* Wilson's score interval for k successes in n trials; NaN when n = 0. */
void cxr_wilson(long k, long n, double z, double *lo, double *hi);

/* Counts at a threshold (score >= t is positive). */
typedef struct cxr_confusion {
	long tp, fp, tn, fn;
} cxr_confusion;
void cxr_confusion_at(const double *score, const int *label, size_t n, double t,
		      cxr_confusion *c);

/* Threshold rules on a built curve. Youden: the point maximising
 * J = tpr - fpr, the highest threshold among equals. Sensitivity: the
 * highest threshold whose tpr >= sens (0 < sens <= 1). Both return a
 * score value (so score >= it gives exactly that point) or NaN when the
 * curve is empty or a class missing. */
double cxr_threshold_youden(const cxr_roc *r);
double cxr_threshold_sensitivity(const cxr_roc *r, double sens);

/* How a tool picks its decision threshold (cxr-roc, cxr-bias
 * --threshold): the model's stored one (the scores' threshold column,
 * else 0.5), a number, "youden", or "sens=X". */
typedef struct cxr_threshold_rule {
	enum { CXR_THR_STORED, CXR_THR_VALUE, CXR_THR_YOUDEN, CXR_THR_SENS } kind;
	double value; /* the number, or X of sens=X */
} cxr_threshold_rule;
/* 0, or -1 with a message when s is none of those forms. */
int cxr_threshold_rule_parse(const char *s, cxr_threshold_rule *r);
/* The threshold the rule gives on this curve; stored is the scores'
 * threshold column (NaN without one). NaN where undefined. */
double cxr_threshold_choose(const cxr_threshold_rule *r, const cxr_roc *roc, double stored);

/* Calibration over nbins equal-width bins of [0, 1]: bin b holds scores
 * in [b/nbins, (b+1)/nbins), the last also 1. ECE = Σ n_b/n · |mean score
 * - fraction positive| (Naeini et al. 2015; Guo et al. 2017). -1 and a
 * message if a score lies outside [0, 1]. */
typedef struct cxr_calbin {
	double lo, hi, mean_score;
	long n, pos;
} cxr_calbin;
int cxr_calibration(const double *score, const int *label, size_t n, int nbins,
		    cxr_calbin *bins /* (nbins) */, double *ece);

#endif
