/* groupeval — see groupeval.h. */
#include "eval/groupeval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

static double ratio(long k, long n) { return n ? (double)k / n : NAN; }

int cxr_group_eval(const double *score, const int *label, size_t n, double t,
		   cxr_group_stats *g)
{
	memset(g, 0, sizeof *g);
	if (cxr_auc_delong(score, label, n, &g->auc))
		return -1;
	cxr_auc_ci(&g->auc, CXR_Z95, &g->auc_lo, &g->auc_hi);
	cxr_confusion_at(score, label, n, t, &g->c);
	const cxr_confusion *c = &g->c;
	g->n = (long)n;
	g->pos = c->tp + c->fn;
	g->neg = c->fp + c->tn;
	g->err = ratio(c->fp + c->fn, g->n);
	g->tpr = ratio(c->tp, g->pos);
	g->fpr = ratio(c->fp, g->neg);
	cxr_wilson(c->fp + c->fn, g->n, CXR_Z95, &g->err_lo, &g->err_hi);
	cxr_wilson(c->tp, g->pos, CXR_Z95, &g->tpr_lo, &g->tpr_hi);
	cxr_wilson(c->fp, g->neg, CXR_Z95, &g->fpr_lo, &g->fpr_hi);
	g->small = g->n < CXR_SMALL_N || g->pos < CXR_SMALL_CLASS || g->neg < CXR_SMALL_CLASS;
	return 0;
}

void cxr_newcombe_diff(long k1, long n1, long k2, long n2, double z, double *lo, double *hi)
{
	if (n1 <= 0 || n2 <= 0) {
		*lo = *hi = NAN;
		return;
	}
	double p1 = (double)k1 / n1, p2 = (double)k2 / n2, l1, u1, l2, u2;
	cxr_wilson(k1, n1, z, &l1, &u1);
	cxr_wilson(k2, n2, z, &l2, &u2);
	double d = p1 - p2;
	*lo = d - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2));
	*hi = d + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2));
}

void cxr_gap_ci(long k1, long n1, long k2, long n2, double z, double *gap, double *lo,
		double *hi)
{
	if (n1 <= 0) {
		*gap = *lo = *hi = NAN;
		return;
	}
	if (n2 <= 0) {
		*gap = *lo = *hi = 0;
		return;
	}
	/* The gap as the tables always printed it: the part's rate minus the
	 * whole's, both computed as ratios. */
	*gap = (double)k1 / n1 - (double)(k1 + k2) / (n1 + n2);
	double f = (double)n2 / (n1 + n2);
	cxr_newcombe_diff(k1, n1, k2, n2, z, lo, hi);
	*lo *= f;
	*hi *= f;
}

void cxr_group_gaps(cxr_group_stats *g, const cxr_group_stats *all)
{
	cxr_gap_ci(g->c.tp, g->pos, all->c.tp - g->c.tp, all->pos - g->pos, CXR_Z95, &g->tpr_gap,
		   &g->tpr_gap_lo, &g->tpr_gap_hi);
	cxr_gap_ci(g->c.fp, g->neg, all->c.fp - g->c.fp, all->neg - g->neg, CXR_Z95, &g->fpr_gap,
		   &g->fpr_gap_lo, &g->fpr_gap_hi);
}

int cxr_group_table_build(cxr_group_table *t, const cxr_scores *s, int col,
			  const char *colname, double width, double thr,
			  const cxr_group_stats *all)
{
	memset(t, 0, sizeof *t);
	cxr_groups g;
	if (cxr_groups_build(&g, s, col, colname, width))
		return -1;
	t->column = cxr_xstrdup(colname);
	t->width = width;
	t->ngroups = g.ngroups;
	size_t ng = g.ngroups ? (size_t)g.ngroups : 1;
	t->key = cxr_xcalloc(ng, sizeof *t->key);
	t->label = cxr_xcalloc(ng, sizeof *t->label);
	t->g = cxr_xcalloc(ng, sizeof *t->g);
	/* Rows regrouped by a counting sort, so many groups stay O(n). */
	size_t *start = cxr_xcalloc(ng + 1, sizeof *start);
	for (size_t i = 0; i < s->n; i++)
		start[g.id[i] + 1]++;
	for (int k = 0; k < g.ngroups; k++)
		start[k + 1] += start[k];
	size_t *fill = cxr_xmalloc((ng + 1) * sizeof *fill);
	memcpy(fill, start, (ng + 1) * sizeof *fill);
	double *gs = cxr_xmalloc((s->n ? s->n : 1) * sizeof *gs);
	int *gl = cxr_xmalloc((s->n ? s->n : 1) * sizeof *gl);
	for (size_t i = 0; i < s->n; i++) {
		size_t j = fill[g.id[i]]++;
		gs[j] = s->score[i];
		gl[j] = s->label[i];
	}
	int rc = 0;
	for (int k = 0; k < g.ngroups && !rc; k++) {
		char buf[128];
		t->key[k] = cxr_xstrdup(g.names[k]);
		cxr_group_label(buf, sizeof buf, colname, width, g.names[k]);
		t->label[k] = cxr_xstrdup(buf);
		rc = cxr_group_eval(gs + start[k], gl + start[k], start[k + 1] - start[k], thr,
				    &t->g[k]);
		if (!rc)
			cxr_group_gaps(&t->g[k], all);
	}
	free(gs);
	free(gl);
	free(fill);
	free(start);
	cxr_groups_free(&g);
	if (rc)
		cxr_group_table_free(t);
	return rc;
}

void cxr_group_table_free(cxr_group_table *t)
{
	for (int k = 0; k < t->ngroups; k++) {
		free(t->key ? t->key[k] : NULL);
		free(t->label ? t->label[k] : NULL);
	}
	free(t->key);
	free(t->label);
	free(t->g);
	free(t->column);
	memset(t, 0, sizeof *t);
}

void cxr_group_label(char *buf, size_t cap, const char *colname, double width,
		     const char *key)
{
	char *end;
	double a = strtod(key, &end);
	if (!strcmp(key, "-")) {
		snprintf(buf, cap, "unknown");
	} else if (width <= 0 || *end || end == key || !isfinite(a)) {
		snprintf(buf, cap, "%s", key); /* a value, or "90+" */
	} else if (!strcmp(colname, "age") && width == floor(width) && a == floor(a)) {
		if (width == 1)
			snprintf(buf, cap, "%.0f", a);
		else
			snprintf(buf, cap, "%.0f\xe2\x80\x93%.0f", a, a + width - 1);
	} else {
		snprintf(buf, cap, "[%.10g, %.10g)", a, a + width);
	}
}

const char *cxr_group_column_label(const char *colname)
{
	return !strcmp(colname, "age") ? "age (years)" : colname;
}
