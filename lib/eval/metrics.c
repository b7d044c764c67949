/* metrics — see metrics.h. */
#include "eval/metrics.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/rng.h"

/* ---- sorting ---------------------------------------------------------- */

/* A double's bits mapped so that unsigned order is numeric order
 * (negatives flipped whole, positives with the sign bit set). -0.0 is
 * made +0.0 first so that the two zeros tie, as they compare equal. */
static uint64_t sort_key(double x)
{
	if (x == 0)
		x = 0;
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return (u >> 63) ? ~u : u | 0x8000000000000000ull;
}

static double key_value(uint64_t k)
{
	uint64_t u = (k >> 63) ? k & 0x7fffffffffffffffull : ~k;
	double x;
	memcpy(&x, &u, sizeof x);
	return x;
}

typedef struct keyed {
	uint64_t key;
	size_t idx;
} keyed;

enum { RADIX_BITS = 11, RADIX = 1 << RADIX_BITS, RADIX_PASSES = 6 }; /* 6·11 >= 64 */

/* LSD radix sort, stable, of records whose first member is the uint64
 * key (KEY(x)); passes where every key shares the digit are skipped
 * (scores in [0, 1] share their top bits, float32 scores their low ones). */
#define DEFINE_RADIX(name, T, KEY)                                                  \
	static void name(T *a, size_t n)                                            \
	{                                                                           \
		if (n < 2)                                                          \
			return;                                                     \
		T *tmp = cxr_xmalloc(n * sizeof *tmp);                              \
		size_t *hist = cxr_xcalloc((size_t)RADIX_PASSES * RADIX, sizeof *hist); \
		for (size_t i = 0; i < n; i++)                                      \
			for (int p = 0; p < RADIX_PASSES; p++)                      \
				hist[p * RADIX + ((KEY(a[i]) >> (p * RADIX_BITS)) & (RADIX - 1))]++; \
		T *src = a, *dst = tmp;                                             \
		for (int p = 0; p < RADIX_PASSES; p++) {                            \
			size_t *h = hist + p * RADIX;                               \
			int shift = p * RADIX_BITS;                                 \
			if (h[(KEY(src[0]) >> shift) & (RADIX - 1)] == n)           \
				continue;                                           \
			size_t sum = 0;                                             \
			for (int d = 0; d < RADIX; d++) {                           \
				size_t c = h[d];                                    \
				h[d] = sum;                                         \
				sum += c;                                           \
			}                                                           \
			for (size_t i = 0; i < n; i++)                              \
				dst[h[(KEY(src[i]) >> shift) & (RADIX - 1)]++] = src[i]; \
			T *t = src;                                                 \
			src = dst;                                                  \
			dst = t;                                                    \
		}                                                                   \
		if (src != a)                                                       \
			memcpy(a, src, n * sizeof *a);                              \
		free(hist);                                                         \
		free(tmp);                                                          \
	}
#define KEYED_KEY(x) ((x).key)
#define PLAIN_KEY(x) (x)
DEFINE_RADIX(radix_sort, keyed, KEYED_KEY)
DEFINE_RADIX(radix_sort_u64, uint64_t, PLAIN_KEY)

/* Sorted (key, idx) pairs of the scores, or NULL with a message. */
static keyed *sorted_keys(const double *score, size_t n)
{
	keyed *a = cxr_alloc_array(n, sizeof *a);
	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(score[i])) {
			cxr_seterr("score %zu is %g, not a finite number", i + 1, score[i]);
			free(a);
			return NULL;
		}
		a[i].key = sort_key(score[i]);
		a[i].idx = i;
	}
	radix_sort(a, n);
	return a;
}

int cxr_argsort(const double *score, size_t n, size_t *order)
{
	keyed *a = sorted_keys(score, n);
	if (!a)
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = a[i].idx;
	free(a);
	return 0;
}

/* The sort keys of the positives' and of the negatives' scores, each
 * ascending: the ROC curve, the AUC and the bootstrap need only the tie
 * blocks of their merge, not which sample is where, and two arrays of
 * bare keys sort twice as fast as (key, index) pairs. */
typedef struct class_keys {
	uint64_t *p, *n; /* (pos), (neg) */
	long pos, neg;
} class_keys;

static int class_keys_sort(class_keys *k, const double *score, const int *label, size_t n)
{
	memset(k, 0, sizeof *k);
	for (size_t i = 0; i < n; i++) {
		if (label[i] != 0 && label[i] != 1) {
			cxr_seterr("label %zu is %d, not 0 or 1", i + 1, label[i]);
			return -1;
		}
		if (!isfinite(score[i])) {
			cxr_seterr("score %zu is %g, not a finite number", i + 1, score[i]);
			return -1;
		}
		k->pos += label[i];
	}
	k->neg = (long)n - k->pos;
	k->p = cxr_alloc_array(k->pos ? k->pos : 1, sizeof *k->p);
	k->n = cxr_alloc_array(k->neg ? k->neg : 1, sizeof *k->n);
	if (!k->p || !k->n) {
		free(k->p);
		free(k->n);
		return -1;
	}
	long ip = 0, in = 0;
	for (size_t i = 0; i < n; i++)
		if (label[i])
			k->p[ip++] = sort_key(score[i]);
		else
			k->n[in++] = sort_key(score[i]);
	radix_sort_u64(k->p, k->pos);
	radix_sort_u64(k->n, k->neg);
	return 0;
}

static void class_keys_free(class_keys *k)
{
	free(k->p);
	free(k->n);
}

static int count_classes(const int *label, size_t n, long *pos, long *neg)
{
	long p = 0;
	for (size_t i = 0; i < n; i++) {
		if (label[i] != 0 && label[i] != 1) {
			cxr_seterr("label %zu is %d, not 0 or 1", i + 1, label[i]);
			return -1;
		}
		p += label[i];
	}
	*pos = p;
	*neg = (long)n - p;
	return 0;
}

/* ---- ROC curve -------------------------------------------------------- */

int cxr_roc_build(cxr_roc *r, const double *score, const int *label, size_t n)
{
	memset(r, 0, sizeof *r);
	class_keys k;
	if (class_keys_sort(&k, score, label, n))
		return -1;
	r->pos = k.pos;
	r->neg = k.neg;
	r->p = cxr_xmalloc((n + 1) * sizeof *r->p);
	double P = r->pos ? (double)r->pos : NAN, N = r->neg ? (double)r->neg : NAN;
	r->p[0] = (cxr_roc_point){INFINITY, 0, 0, 0, 0};
	size_t np = 1;
	/* Merge the two sorted key arrays from the top: each distinct score
	 * takes all positives and negatives that have it. */
	long ip = k.pos, in = k.neg, tp = 0, fp = 0;
	while (ip > 0 || in > 0) {
		uint64_t top = ip == 0 ? k.n[in - 1]
			     : in == 0 ? k.p[ip - 1]
			     : k.p[ip - 1] > k.n[in - 1] ? k.p[ip - 1] : k.n[in - 1];
		while (ip > 0 && k.p[ip - 1] == top)
			ip--, tp++;
		while (in > 0 && k.n[in - 1] == top)
			in--, fp++;
		r->p[np++] = (cxr_roc_point){key_value(top), fp / N, tp / P, tp, fp};
	}
	r->npoints = np;
	class_keys_free(&k);
	return 0;
}

void cxr_auc_from_roc(const cxr_roc *r, cxr_auc *a)
{
	long pos = r->pos, neg = r->neg;
	a->pos = pos;
	a->neg = neg;
	a->auc = a->var = NAN;
	if (!pos || !neg)
		return;
	/* Point k is the tie block of one score: bp positives, bn negatives,
	 * neg - fp_k negatives below, tp_(k-1) positives above. Each positive
	 * there has DeLong component V10 = (below + bn/2)/neg, each negative
	 * V01 = (above + bp/2)/pos (Sun & Xu 2014, eq. 5), so the AUC (their
	 * mean) and variances are sums over blocks. Twice the Mann–Whitney U
	 * is summed in integers, so the AUC is exact. */
	uint64_t u2 = 0;
	for (size_t k = 1; k < r->npoints; k++) {
		uint64_t bp = r->p[k].tp - r->p[k - 1].tp, bn = r->p[k].fp - r->p[k - 1].fp;
		u2 += bp * (2 * (uint64_t)(neg - r->p[k].fp) + bn);
	}
	a->auc = (double)u2 / (2.0 * (double)pos * (double)neg);
	if (pos < 2 || neg < 2)
		return;
	double s10 = 0, s01 = 0;
	for (size_t k = 1; k < r->npoints; k++) {
		long bp = r->p[k].tp - r->p[k - 1].tp, bn = r->p[k].fp - r->p[k - 1].fp;
		double v10 = (neg - r->p[k].fp + 0.5 * bn) / neg - a->auc;
		double v01 = (r->p[k - 1].tp + 0.5 * bp) / pos - a->auc;
		s10 += bp * v10 * v10;
		s01 += bn * v01 * v01;
	}
	a->var = s10 / (pos - 1) / pos + s01 / (neg - 1) / neg;
}

void cxr_roc_free(cxr_roc *r)
{
	free(r->p);
	memset(r, 0, sizeof *r);
}

/* ---- AUC and DeLong --------------------------------------------------- */

int cxr_delong_components(const double *score, const int *label, size_t n, double *v,
			  cxr_auc *au)
{
	long pos, neg;
	if (count_classes(label, n, &pos, &neg))
		return -1;
	keyed *a = sorted_keys(score, n);
	if (!a)
		return -1;
	/* In each tie block, a positive beats the negatives below it and ties
	 * with those in the block: its midrank among all samples minus its
	 * midrank among positives, over neg (Sun & Xu 2014, eq. 5). Twice the
	 * Mann–Whitney U is summed in integers so the AUC is exact. */
	uint64_t u2 = 0;
	long neg_below = 0, pos_below = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		long bp = 0, bn = 0;
		while (j < n && a[j].key == a[i].key) {
			if (label[a[j].idx])
				bp++;
			else
				bn++;
			j++;
		}
		long pos_above = pos - pos_below - bp;
		double vp = (neg_below + 0.5 * bn) / neg, vn = (pos_above + 0.5 * bp) / pos;
		for (size_t k = i; k < j; k++)
			v[a[k].idx] = label[a[k].idx] ? vp : vn;
		u2 += (uint64_t)bp * (uint64_t)(2 * neg_below + bn);
		neg_below += bn;
		pos_below += bp;
		i = j;
	}
	free(a);
	au->pos = pos;
	au->neg = neg;
	au->auc = pos && neg ? (double)u2 / (2.0 * (double)pos * (double)neg) : NAN;
	au->var = NAN;
	if (pos >= 2 && neg >= 2) {
		double s10 = 0, s01 = 0;
		for (size_t i = 0; i < n; i++) {
			double d = v[i] - au->auc;
			if (label[i])
				s10 += d * d;
			else
				s01 += d * d;
		}
		au->var = s10 / (pos - 1) / pos + s01 / (neg - 1) / neg;
	}
	return 0;
}

int cxr_auc_delong(const double *score, const int *label, size_t n, cxr_auc *a)
{
	cxr_roc r;
	if (cxr_roc_build(&r, score, label, n))
		return -1;
	cxr_auc_from_roc(&r, a);
	cxr_roc_free(&r);
	return 0;
}

int cxr_delong_paired(const double *score_a, const double *score_b, const int *label,
		      size_t n, cxr_delong_test *t)
{
	memset(t, 0, sizeof *t);
	double *va = cxr_alloc_array(n, sizeof *va), *vb = cxr_alloc_array(n, sizeof *vb);
	int rc = -1;
	if (!va || !vb)
		goto out;
	if (cxr_delong_components(score_a, label, n, va, &t->a) ||
	    cxr_delong_components(score_b, label, n, vb, &t->b))
		goto out;
	long pos = t->a.pos, neg = t->a.neg;
	t->diff = t->a.auc - t->b.auc;
	t->cov = t->se = t->z = t->p = NAN;
	if (pos >= 2 && neg >= 2) {
		double c10 = 0, c01 = 0;
		for (size_t i = 0; i < n; i++) {
			double d = (va[i] - t->a.auc) * (vb[i] - t->b.auc);
			if (label[i])
				c10 += d;
			else
				c01 += d;
		}
		t->cov = c10 / (pos - 1) / pos + c01 / (neg - 1) / neg;
		double var = t->a.var + t->b.var - 2 * t->cov;
		/* Identical scorings give var 0 (up to rounding): no test. */
		if (var > 1e-15 * (t->a.var + t->b.var)) {
			t->se = sqrt(var);
			t->z = t->diff / t->se;
			t->p = cxr_normal_p2(t->z);
		}
	}
	rc = 0;
out:
	free(va);
	free(vb);
	return rc;
}

void cxr_auc_ci(const cxr_auc *a, double z, double *lo, double *hi)
{
	if (isnan(a->var) || isnan(a->auc)) {
		*lo = *hi = NAN;
		return;
	}
	double h = z * sqrt(a->var);
	*lo = fmax(0, a->auc - h);
	*hi = fmin(1, a->auc + h);
}

double cxr_normal_p2(double z) { return erfc(fabs(z) / sqrt(2.0)); }

/* ---- bootstrap -------------------------------------------------------- */

/* Lemire's multiply-and-reject: unbiased, and without the division per
 * draw of cxr_rng_below (a bootstrap draws n numbers per replicate). */
static inline uint64_t below_fast(cxr_rng *g, uint64_t n)
{
	__uint128_t m = (__uint128_t)cxr_rng_u64(g) * n;
	uint64_t l = (uint64_t)m;
	if (l < n) {
		uint64_t t = -n % n;
		while (l < t) {
			m = (__uint128_t)cxr_rng_u64(g) * n;
			l = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double cxr_quantile_sorted(const double *x, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t k = (size_t)floor(pos);
	if (k + 1 >= n)
		return x[n - 1];
	return x[k] + (pos - (double)k) * (x[k + 1] - x[k]);
}

int cxr_auc_bootstrap(const double *score, const int *label, size_t n, long reps,
		      uint64_t seed, double level, int nthreads, double *lo, double *hi,
		      double *aucs_out)
{
	*lo = *hi = NAN;
	class_keys ck;
	if (class_keys_sort(&ck, score, label, n))
		return -1;
	long pos = ck.pos, neg = ck.neg;
	if (!pos || !neg || reps < 1) {
		class_keys_free(&ck);
		return 0;
	}
	/* A replicate only needs how many draws land in each tie block, so
	 * each sample is reduced to its block number once (ascending). */
	uint32_t *pblock = cxr_xmalloc(pos * sizeof *pblock);
	uint32_t *nblock = cxr_xmalloc(neg * sizeof *nblock);
	size_t nb = 0;
	long ip = 0, in = 0;
	while (ip < pos || in < neg) {
		uint64_t low = ip == pos ? ck.n[in]
			     : in == neg ? ck.p[ip]
			     : ck.p[ip] < ck.n[in] ? ck.p[ip] : ck.n[in];
		while (ip < pos && ck.p[ip] == low)
			pblock[ip++] = (uint32_t)nb;
		while (in < neg && ck.n[in] == low)
			nblock[in++] = (uint32_t)nb;
		nb++;
	}
	class_keys_free(&ck);
	double *aucs = cxr_xmalloc(reps * sizeof *aucs);
	double denom = 2.0 * (double)pos * (double)neg;
	if (nthreads <= 0)
		nthreads = omp_get_max_threads();
#pragma omp parallel num_threads(nthreads) if (reps > 1)
	{
		uint32_t *wp = cxr_xmalloc(nb * sizeof *wp), *wn = cxr_xmalloc(nb * sizeof *wn);
#pragma omp for schedule(dynamic, 4)
		for (long r = 0; r < reps; r++) {
			cxr_rng g;
			cxr_rng_seed(&g, cxr_seed_mix((uint64_t)r, seed));
			memset(wp, 0, nb * sizeof *wp);
			memset(wn, 0, nb * sizeof *wn);
			for (long k = 0; k < pos; k++)
				wp[pblock[below_fast(&g, (uint64_t)pos)]]++;
			for (long k = 0; k < neg; k++)
				wn[nblock[below_fast(&g, (uint64_t)neg)]]++;
			uint64_t u2 = 0, below = 0;
			for (size_t b = 0; b < nb; b++) {
				u2 += (uint64_t)wp[b] * (2 * below + wn[b]);
				below += wn[b];
			}
			aucs[r] = (double)u2 / denom;
		}
		free(wp);
		free(wn);
	}
	if (aucs_out)
		memcpy(aucs_out, aucs, reps * sizeof *aucs);
	qsort(aucs, reps, sizeof *aucs, cmp_double);
	*lo = cxr_quantile_sorted(aucs, reps, (1 - level) / 2);
	*hi = cxr_quantile_sorted(aucs, reps, (1 + level) / 2);
	free(aucs);
	free(pblock);
	free(nblock);
	return 0;
}

/* ---- proportions and thresholds --------------------------------------- */

void cxr_wilson(long k, long n, double z, double *lo, double *hi)
{
	if (n <= 0) {
		*lo = *hi = NAN;
		return;
	}
	double p = (double)k / n, z2 = z * z, d = 1 + z2 / n;
	double c = (p + z2 / (2.0 * n)) / d;
	double h = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / d;
	*lo = k == 0 ? 0 : fmax(0, c - h);
	*hi = k == n ? 1 : fmin(1, c + h);
}

void cxr_confusion_at(const double *score, const int *label, size_t n, double t,
		      cxr_confusion *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < n; i++) {
		int pred = score[i] >= t;
		if (label[i])
			pred ? c->tp++ : c->fn++;
		else
			pred ? c->fp++ : c->tn++;
	}
}

double cxr_threshold_youden(const cxr_roc *r)
{
	if (r->npoints < 2 || !r->pos || !r->neg)
		return NAN;
	/* J compared in integers (tp·neg - fp·pos) so that equal J tie. */
	size_t best = 1;
	double bj = (double)r->p[1].tp * r->neg - (double)r->p[1].fp * r->pos;
	for (size_t k = 2; k < r->npoints; k++) {
		double j = (double)r->p[k].tp * r->neg - (double)r->p[k].fp * r->pos;
		if (j > bj) {
			bj = j;
			best = k;
		}
	}
	return r->p[best].threshold;
}

double cxr_threshold_sensitivity(const cxr_roc *r, double sens)
{
	if (r->npoints < 2 || !r->pos || !r->neg || !(sens > 0 && sens <= 1))
		return NAN;
	/* The smallest tp with tp/pos >= sens, in integers. */
	long need = (long)ceil(sens * r->pos - 1e-9);
	for (size_t k = 1; k < r->npoints; k++)
		if (r->p[k].tp >= need)
			return r->p[k].threshold;
	return r->p[r->npoints - 1].threshold;
}

int cxr_threshold_rule_parse(const char *s, cxr_threshold_rule *r)
{
	char *end;
	r->value = NAN;
	if (!strcmp(s, "youden")) {
		r->kind = CXR_THR_YOUDEN;
		return 0;
	}
	if (!strncmp(s, "sens=", 5)) {
		r->kind = CXR_THR_SENS;
		r->value = strtod(s + 5, &end);
		if (end == s + 5 || *end || !(r->value > 0 && r->value <= 1)) {
			cxr_seterr("'%s': the sensitivity must be in (0, 1]", s);
			return -1;
		}
		return 0;
	}
	r->kind = CXR_THR_VALUE;
	r->value = strtod(s, &end);
	if (end == s || *end || !isfinite(r->value)) {
		cxr_seterr("'%s' is not a number, youden or sens=X", s);
		return -1;
	}
	return 0;
}

double cxr_threshold_choose(const cxr_threshold_rule *r, const cxr_roc *roc, double stored)
{
	switch (r->kind) {
	case CXR_THR_VALUE: return r->value;
	case CXR_THR_YOUDEN: return cxr_threshold_youden(roc);
	case CXR_THR_SENS: return cxr_threshold_sensitivity(roc, r->value);
	default: return isnan(stored) ? 0.5 : stored;
	}
}

/* ---- calibration ------------------------------------------------------ */

int cxr_calibration(const double *score, const int *label, size_t n, int nbins,
		    cxr_calbin *bins, double *ece)
{
	double *sum = cxr_xcalloc(nbins, sizeof *sum);
	for (int b = 0; b < nbins; b++)
		bins[b] = (cxr_calbin){(double)b / nbins, (double)(b + 1) / nbins, NAN, 0, 0};
	for (size_t i = 0; i < n; i++) {
		double s = score[i];
		if (!(s >= 0 && s <= 1)) {
			cxr_seterr("score %zu is %.17g, outside [0, 1]; calibration needs probabilities",
				   i + 1, s);
			free(sum);
			return -1;
		}
		/* floor(s·nbins), corrected where s·nbins rounds across an edge. */
		int b = (int)floor(s * nbins);
		if (b >= nbins)
			b = nbins - 1;
		while (b > 0 && s < (double)b / nbins)
			b--;
		while (b < nbins - 1 && s >= (double)(b + 1) / nbins)
			b++;
		bins[b].n++;
		bins[b].pos += label[i] != 0;
		sum[b] += s;
	}
	double e = 0;
	for (int b = 0; b < nbins; b++) {
		if (!bins[b].n)
			continue;
		bins[b].mean_score = sum[b] / bins[b].n;
		e += (double)bins[b].n * fabs(bins[b].mean_score - (double)bins[b].pos / bins[b].n);
	}
	*ece = n ? e / n : NAN;
	free(sum);
	return 0;
}
