/* metrics — see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rng.h"

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

typedef struct keyed {
	uint64_t key;
	size_t idx;
} keyed;

enum { RADIX_BITS = 11, RADIX = 1 << RADIX_BITS, RADIX_PASSES = 6 }; /* 6·11 >= 64 */

/* LSD radix sort of (key, idx) pairs, stable; passes where every key
 * shares the digit are skipped (scores in [0,1] share their top bits). */
static void radix_sort(keyed *a, keyed *tmp, size_t n)
{
	size_t *hist = cxr_xcalloc((size_t)RADIX_PASSES * RADIX, sizeof *hist);
	for (size_t i = 0; i < n; i++)
		for (int p = 0; p < RADIX_PASSES; p++)
			hist[p * RADIX + ((a[i].key >> (p * RADIX_BITS)) & (RADIX - 1))]++;
	keyed *src = a, *dst = tmp;
	for (int p = 0; p < RADIX_PASSES; p++) {
		size_t *h = hist + p * RADIX;
		int shift = p * RADIX_BITS;
		if (n == 0 || h[(src[0].key >> shift) & (RADIX - 1)] == n)
			continue;
		size_t sum = 0;
		for (int d = 0; d < RADIX; d++) {
			size_t c = h[d];
			h[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[h[(src[i].key >> shift) & (RADIX - 1)]++] = src[i];
		keyed *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
	free(hist);
}

/* Sorted (key, idx) pairs of the scores, or NULL with a message. */
static keyed *sorted_keys(const double *score, size_t n)
{
	keyed *a = cxr_alloc_array(n, sizeof *a);
	keyed *tmp = cxr_alloc_array(n, sizeof *tmp);
	if (!a || !tmp) {
		free(a);
		free(tmp);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(score[i])) {
			cxr_seterr("score %zu is %g, not a finite number", i + 1, score[i]);
			free(a);
			free(tmp);
			return NULL;
		}
		a[i].key = sort_key(score[i]);
		a[i].idx = i;
	}
	radix_sort(a, tmp, n);
	free(tmp);
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
	if (count_classes(label, n, &r->pos, &r->neg))
		return -1;
	keyed *a = sorted_keys(score, n);
	if (!a)
		return -1;
	r->p = cxr_xmalloc((n + 1) * sizeof *r->p);
	double P = r->pos ? (double)r->pos : NAN, N = r->neg ? (double)r->neg : NAN;
	r->p[0] = (cxr_roc_point){INFINITY, 0, 0, 0, 0};
	size_t np = 1;
	long tp = 0, fp = 0;
	/* Walk tie blocks from the highest score down. */
	for (size_t j = n; j > 0;) {
		size_t i = j;
		while (i > 0 && a[i - 1].key == a[j - 1].key) {
			i--;
			if (label[a[i].idx])
				tp++;
			else
				fp++;
		}
		r->p[np++] = (cxr_roc_point){score[a[j - 1].idx], fp / N, tp / P, tp, fp};
		j = i;
	}
	r->npoints = np;
	free(a);
	return 0;
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
	double *v = cxr_alloc_array(n, sizeof *v);
	if (!v)
		return -1;
	int rc = cxr_delong_components(score, label, n, v, a);
	free(v);
	return rc;
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
	long pos, neg;
	*lo = *hi = NAN;
	if (count_classes(label, n, &pos, &neg))
		return -1;
	if (!pos || !neg || reps < 1)
		return 0;
	keyed *a = sorted_keys(score, n);
	if (!a)
		return -1;
	/* A replicate only needs how many draws land in each tie block, so
	 * each sample is reduced to its block number once. */
	uint32_t *pblock = cxr_xmalloc(pos * sizeof *pblock);
	uint32_t *nblock = cxr_xmalloc(neg * sizeof *nblock);
	size_t nb = 0;
	long ip = 0, in = 0;
	for (size_t i = 0; i < n; nb++) {
		size_t j = i;
		while (j < n && a[j].key == a[i].key) {
			if (label[a[j].idx])
				pblock[ip++] = (uint32_t)nb;
			else
				nblock[in++] = (uint32_t)nb;
			j++;
		}
		i = j;
	}
	free(a);
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
			uint64_t x = (uint64_t)r;
			cxr_rng_seed(&g, seed ^ cxr_splitmix64(&x));
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
