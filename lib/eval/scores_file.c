/* scores_file — see scores_file.h. */
#include "eval/scores_file.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/sample.h"
#include "data/tsv.h"

static int need_col(cxr_tsv *t, const char *name)
{
	int c = cxr_tsv_col(t, name);
	if (c >= 0)
		return c;
	/* Name the columns there are: a user who typed --by gender or
	 * --label Label sees the right spelling at once. */
	char have[512] = "";
	size_t len = 0;
	for (int i = 0; i < cxr_tsv_ncols(t) && len < sizeof have; i++)
		len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", i ? ", " : "",
					cxr_tsv_colname(t, i));
	cxr_seterr("%s: no '%s' column in the header (it has: %s)", cxr_tsv_path(t), name, have);
	return -1;
}

/* A whole field as a finite double, or -1. */
static int parse_finite(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end); /* overflow gives inf, refused; underflow is fine */
	return end == s || *end || !isfinite(*v) ? -1 : 0;
}

/* ---- interned columns ------------------------------------------------- */

/* The id of value s in c, added (first seen on line) if new. */
static int column_intern(cxr_column *c, const char *s, long line)
{
	int added;
	int id = (int)cxr_strset_add(&c->set, s, &added);
	c->value = c->set.str;
	if (added) {
		if ((size_t)id == c->line_cap) {
			c->line_cap = c->line_cap ? 2 * c->line_cap : 64;
			c->line = cxr_xrealloc(c->line, c->line_cap * sizeof *c->line);
		}
		c->line[id] = line;
		c->nvalue = id + 1;
	}
	return id;
}

static void column_free(cxr_column *c)
{
	cxr_strset_free(&c->set);
	free(c->line);
	free(c->id);
	memset(c, 0, sizeof *c);
}

int cxr_scores_read(cxr_scores *s, FILE *f, const char *path, const cxr_scores_opt *o)
{
	memset(s, 0, sizeof *s);
	s->threshold = NAN;
	s->path = cxr_xstrdup(cxr_name(path));
	const char *lname = o && o->label_col ? o->label_col : "label";
	cxr_tsv *t = cxr_tsv_open(f, path);
	if (!t) {
		cxr_scores_free(s);
		return -1;
	}
	int no_label = o && o->no_label;
	int cs = need_col(t, "score"), cl = no_label ? 0 : need_col(t, lname);
	int ci = o && o->want_image ? need_col(t, "image") : 0;
	int cm = cxr_tsv_col(t, "model"), ct = cxr_tsv_col(t, "threshold");
	if (cs < 0 || cl < 0 || ci < 0)
		goto fail;
	s->ngroup = o ? o->ngroup : 0;
	int *cg = cxr_xcalloc(s->ngroup + 1, sizeof *cg);
	for (int g = 0; g < s->ngroup; g++)
		if ((cg[g] = need_col(t, o->group_cols[g])) < 0) {
			free(cg);
			goto fail;
		}
	s->group = cxr_xcalloc(s->ngroup + 1, sizeof *s->group);
	size_t cap = 0;
	long model_line = 0;
	int rc;
	while ((rc = cxr_tsv_next(t)) > 0) {
		long ln = cxr_tsv_lineno(t);
		const char *lv = cxr_tsv_field(t, cl), *sv = cxr_tsv_field(t, cs);
		if (cm >= 0) {
			const char *m = cxr_tsv_field(t, cm);
			if (!s->model) {
				s->model = cxr_xstrdup(m);
				model_line = ln;
			} else if (strcmp(m, s->model)) {
				cxr_seterr("%s: line %ld: model '%s' differs from '%s' on line %ld; "
					   "scores of two models are mixed",
					   s->path, ln, m, s->model, model_line);
				goto fail_rows;
			}
		}
		if (ct >= 0) {
			double th;
			const char *tv = cxr_tsv_field(t, ct);
			if (parse_finite(tv, &th)) {
				cxr_seterr("%s: line %ld: threshold '%s' is not a number", s->path, ln, tv);
				goto fail_rows;
			}
			if (isnan(s->threshold))
				s->threshold = th;
			else if (th != s->threshold) {
				cxr_seterr("%s: line %ld: threshold %s differs from %.17g above",
					   s->path, ln, tv, s->threshold);
				goto fail_rows;
			}
		}
		int label;
		if (no_label) {
			label = CXR_LABEL_UNKNOWN;
		} else if (!strcmp(lv, "-")) {
			s->skipped++;
			continue;
		} else if (!strcmp(lv, "0") || !strcmp(lv, "1")) {
			label = lv[0] - '0';
		} else {
			cxr_seterr("%s: line %ld: %s '%s' is not 0, 1 or -", s->path, ln, lname, lv);
			goto fail_rows;
		}
		double sc;
		if (parse_finite(sv, &sc)) {
			cxr_seterr("%s: line %ld: score '%s' is not a finite number", s->path, ln, sv);
			goto fail_rows;
		}
		if (s->n == cap) {
			cap = cap ? 2 * cap : 1024;
			s->score = cxr_xrealloc(s->score, cap * sizeof *s->score);
			s->label = cxr_xrealloc(s->label, cap * sizeof *s->label);
			s->line = cxr_xrealloc(s->line, cap * sizeof *s->line);
			if (o && o->want_image)
				s->image = cxr_xrealloc(s->image, cap * sizeof *s->image);
			for (int g = 0; g < s->ngroup; g++)
				s->group[g].id = cxr_xrealloc(s->group[g].id, cap * sizeof *s->group[g].id);
		}
		s->score[s->n] = sc;
		s->label[s->n] = label;
		s->line[s->n] = ln;
		if (o && o->want_image)
			s->image[s->n] = cxr_xstrdup(cxr_tsv_field(t, ci));
		for (int g = 0; g < s->ngroup; g++)
			s->group[g].id[s->n] = column_intern(&s->group[g], cxr_tsv_field(t, cg[g]), ln);
		s->n++;
	}
	if (rc < 0)
		goto fail_rows;
	free(cg);
	cxr_tsv_close(t);
	return 0;
fail_rows:
	free(cg);
fail:
	cxr_tsv_close(t);
	cxr_scores_free(s);
	return -1;
}

void cxr_scores_free(cxr_scores *s)
{
	if (s->image)
		for (size_t i = 0; i < s->n; i++)
			free(s->image[i]);
	if (s->group)
		for (int g = 0; g < s->ngroup; g++)
			column_free(&s->group[g]);
	free(s->group);
	free(s->image);
	free(s->score);
	free(s->label);
	free(s->line);
	free(s->model);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->threshold = NAN;
}

int cxr_scores_load(cxr_scores *s, const char *path, const cxr_scores_opt *o)
{
	int std = !path || !strcmp(path, "-");
	FILE *f = std ? stdin : fopen(path, "r");
	if (!f) {
		memset(s, 0, sizeof *s);
		cxr_seterr("%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = cxr_scores_read(s, f, path, o);
	if (!std)
		fclose(f);
	return rc;
}

void cxr_scores_keep(cxr_scores *s, const unsigned char *keep)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!keep[i]) {
			if (s->image)
				free(s->image[i]);
			continue;
		}
		s->score[k] = s->score[i];
		s->label[k] = s->label[i];
		s->line[k] = s->line[i];
		if (s->image)
			s->image[k] = s->image[i];
		for (int g = 0; g < s->ngroup; g++)
			s->group[g].id[k] = s->group[g].id[i];
		k++;
	}
	/* Each group column again from the rows kept, so that its values
	 * are those some row still has, in order of appearance. */
	for (int g = 0; g < s->ngroup; g++) {
		cxr_column old = s->group[g], c = {0};
		c.id = old.id;
		for (size_t i = 0; i < k; i++)
			c.id[i] = column_intern(&c, old.value[old.id[i]], old.line[old.id[i]]);
		old.id = NULL;
		column_free(&old);
		s->group[g] = c;
	}
	s->n = k;
}

int cxr_scores_need_both(const cxr_scores *s)
{
	long pos = 0;
	for (size_t i = 0; i < s->n; i++)
		pos += s->label[i];
	if (s->n == 0) {
		cxr_seterr("%s: no rows with a label (%ld rows labelled '-')", s->path, s->skipped);
		return -1;
	}
	if (pos == 0 || pos == (long)s->n) {
		cxr_seterr("%s: all %zu labelled rows are %s; a ROC curve needs both classes",
			   s->path, s->n, pos ? "positive (1)" : "negative (0)");
		return -1;
	}
	return 0;
}

/* ---- pairing two files ---------------------------------------------- */

static char *const *match_names; /* for the qsort below; one caller at a time */

static int cmp_by_name(const void *x, const void *y)
{
	return strcmp(match_names[*(const size_t *)x], match_names[*(const size_t *)y]);
}

/* Row indices of s in image-name order; NULL (message set) on a repeat. */
static size_t *by_name(const cxr_scores *s)
{
	size_t *ix = cxr_xmalloc((s->n ? s->n : 1) * sizeof *ix);
	for (size_t i = 0; i < s->n; i++)
		ix[i] = i;
	match_names = s->image;
	qsort(ix, s->n, sizeof *ix, cmp_by_name);
	for (size_t i = 1; i < s->n; i++)
		if (!strcmp(s->image[ix[i]], s->image[ix[i - 1]])) {
			size_t a = ix[i - 1] < ix[i] ? ix[i - 1] : ix[i], b = ix[i - 1] ^ ix[i] ^ a;
			cxr_seterr("%s: line %ld: image %s already on line %ld", s->path, s->line[b],
				   s->image[b], s->line[a]);
			free(ix);
			return NULL;
		}
	return ix;
}

int cxr_scores_match(const cxr_scores *a, const cxr_scores *b, size_t *b_of_a)
{
	size_t *ia = by_name(a), *ib = ia ? by_name(b) : NULL;
	int rc = -1;
	if (!ia || !ib)
		goto out;
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->image[ia[i]], b->image[ib[j]]);
		if (c) {
			const cxr_scores *s = c < 0 ? a : b, *o = c < 0 ? b : a;
			size_t r = c < 0 ? ia[i] : ib[j];
			cxr_seterr("%s: line %ld: image %s is not in %s (with a label); both files "
				   "must score the same images", s->path, s->line[r], s->image[r],
				   o->path);
			goto out;
		}
		size_t ra = ia[i++], rb = ib[j++];
		if (a->label[ra] != b->label[rb]) {
			cxr_seterr("%s: line %ld: image %s has label %d, but %d in %s line %ld",
				   a->path, a->line[ra], a->image[ra], a->label[ra], b->label[rb],
				   b->path, b->line[rb]);
			goto out;
		}
		b_of_a[ra] = rb;
	}
	rc = 0;
out:
	free(ia);
	free(ib);
	return rc;
}

/* ---- groups ----------------------------------------------------------- */

/* Group keys sort as numbers when bucketed, as text otherwise; the
 * unknown group "-" always last. */
typedef struct gkey {
	const char *name;
	double num;
	int unknown;
	int pos; /* in order of appearance */
} gkey;

static int cmp_gkey_text(const void *a, const void *b)
{
	const gkey *x = a, *y = b;
	if (x->unknown != y->unknown)
		return x->unknown - y->unknown;
	return strcmp(x->name, y->name);
}

static int cmp_gkey_num(const void *a, const void *b)
{
	const gkey *x = a, *y = b;
	if (x->unknown != y->unknown)
		return x->unknown - y->unknown;
	return (x->num > y->num) - (x->num < y->num);
}

int cxr_groups_build(cxr_groups *g, const cxr_scores *s, int col, const char *colname,
		     double width)
{
	memset(g, 0, sizeof *g);
	const cxr_column *c = &s->group[col];
	g->n = s->n;
	g->id = cxr_xmalloc((s->n ? s->n : 1) * sizeof *g->id);
	/* Each distinct value's group: itself, or its bucket's name, interned. */
	cxr_column names = {0};
	int *group_of = cxr_xmalloc((c->nvalue ? c->nvalue : 1) * sizeof *group_of);
	int age = !strcmp(colname, "age");
	double top = width > 0 && age ? floor(90 / width) * width : INFINITY;
	for (int v = 0; v < c->nvalue; v++) {
		const char *val = c->value[v];
		char buf[64];
		if (width > 0 && strcmp(val, "-")) {
			double x;
			if (age ? cxr_age_parse(val, &x) || isnan(x) : parse_finite(val, &x)) {
				cxr_seterr("%s: line %ld: %s '%s' is not a number (--by %s:%g)",
					   s->path, c->line[v], colname, val, colname, width);
				free(group_of);
				column_free(&names);
				cxr_groups_free(g);
				return -1;
			}
			double b = floor(x / width) * width;
			if (b >= top)
				snprintf(buf, sizeof buf, "%.10g+", top);
			else
				snprintf(buf, sizeof buf, "%.10g", b);
			val = buf;
		}
		group_of[v] = column_intern(&names, val, c->line[v]);
	}
	/* Output order: numeric for buckets, strcmp otherwise, "-" last. */
	int nk = names.nvalue;
	gkey *keys = cxr_xmalloc((nk ? nk : 1) * sizeof *keys);
	for (int k = 0; k < nk; k++) {
		keys[k].name = names.value[k];
		keys[k].unknown = !strcmp(names.value[k], "-");
		keys[k].num = keys[k].unknown || width <= 0 ? 0 : strtod(names.value[k], NULL);
		keys[k].pos = k;
	}
	qsort(keys, nk, sizeof *keys, width > 0 ? cmp_gkey_num : cmp_gkey_text);
	int *rank = cxr_xmalloc((nk ? nk : 1) * sizeof *rank);
	g->ngroups = nk;
	g->names = cxr_xmalloc((nk ? nk : 1) * sizeof *g->names);
	for (int k = 0; k < nk; k++) {
		g->names[k] = cxr_xstrdup(keys[k].name);
		rank[keys[k].pos] = k;
	}
	for (size_t i = 0; i < s->n; i++)
		g->id[i] = rank[group_of[c->id[i]]];
	free(rank);
	free(keys);
	free(group_of);
	column_free(&names);
	return 0;
}

void cxr_groups_free(cxr_groups *g)
{
	if (g->names)
		for (int k = 0; k < g->ngroups; k++)
			free(g->names[k]);
	free(g->names);
	free(g->id);
	memset(g, 0, sizeof *g);
}

const char *cxr_fmt_num(char buf[32], double v)
{
	if (isnan(v))
		return "-";
	for (int p = 15; p < 17; p++) {
		snprintf(buf, 32, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	snprintf(buf, 32, "%.17g", v); /* always reads back */
	return buf;
}
