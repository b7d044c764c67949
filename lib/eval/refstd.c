/* refstd — see refstd.h. */
#include "eval/refstd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/labellist.h"
#include "data/sample.h"
#include "data/tsv.h"

/* One labelled image while reading, before the arrays are filled. */
typedef struct entry {
	char *image;
	int label;
	long line;
} entry;

static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = strcmp(x->image, y->image);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts e (taking its strings) into r's arrays; -1 on an image named
 * twice (a list has refused that already; a TSV has not). */
static int fill(cxr_refstd *r, entry *e, size_t n)
{
	if (n) /* an empty file has no array at all: qsort must not see NULL */
		qsort(e, n, sizeof *e, entry_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(e[i].image, e[i - 1].image)) {
			cxr_seterr("%s: line %ld: image %s listed again (first on line %ld)",
				   r->path, e[i].line, e[i].image, e[i - 1].line);
			for (size_t k = 0; k < n; k++)
				free(e[k].image);
			return -1;
		}
	r->image = cxr_xmalloc((n ? n : 1) * sizeof *r->image);
	r->label = cxr_xmalloc((n ? n : 1) * sizeof *r->label);
	r->line = cxr_xmalloc((n ? n : 1) * sizeof *r->line);
	for (size_t i = 0; i < n; i++) {
		r->image[i] = e[i].image;
		r->label[i] = e[i].label;
		r->line[i] = e[i].line;
	}
	r->n = n;
	return 0;
}

static void push(entry **e, size_t *n, size_t *cap, char *image, int label, long line)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 1024;
		*e = cxr_xrealloc(*e, *cap * sizeof **e);
	}
	(*e)[(*n)++] = (entry){image, label, line};
}

static int read_tsv(cxr_refstd *r, FILE *f, const char *path, const char *header,
		    const char *label_col, entry **e, size_t *n)
{
	const char *lname = label_col ? label_col : "label";
	cxr_tsv *t = cxr_tsv_open_with_header(f, path, header);
	int ci = cxr_tsv_col(t, "image"), cl = cxr_tsv_col(t, lname);
	if (cl < 0) {
		cxr_seterr("%s: line 1: no '%s' column in the header%s", r->path, lname,
			   label_col ? "" : " (name the label column with --label)");
		cxr_tsv_close(t);
		return -1;
	}
	size_t cap = 0;
	int rc;
	while ((rc = cxr_tsv_next(t)) > 0) {
		const char *v = cxr_tsv_field(t, cl);
		int label;
		if (cxr_label_parse(v, &label) || !*v) {
			cxr_seterr("%s: line %ld: %s '%s' is not 0, 1 or -", r->path,
				   cxr_tsv_lineno(t), lname, v);
			rc = -1;
			break;
		}
		if (label == CXR_LABEL_UNKNOWN)
			r->unknown++;
		else
			push(e, n, &cap, cxr_xstrdup(cxr_tsv_field(t, ci)), label, cxr_tsv_lineno(t));
	}
	cxr_tsv_close(t);
	return rc;
}

static int read_list(cxr_refstd *r, FILE *f, const char *path, const char *first,
		     const char *label_col, entry **e, size_t *n)
{
	if (label_col) {
		cxr_seterr("%s: --label %s names a column, but this is a list of IMAGE LABEL "
			   "lines, not a TSV with a header", r->path, label_col);
		return -1;
	}
	cxr_labellist l;
	if (cxr_labellist_read_after(&l, f, path, first))
		return -1;
	size_t cap = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (l.bare[i]) {
			/* a bare name: a names-only list (NIH's test_list.txt)
			 * where labels were meant */
			cxr_seterr("%s: line %ld: %s has no label (a reference standard is "
				   "IMAGE LABEL lines, or a TSV with image and label columns)",
				   r->path, l.line[i], l.image[i]);
			cxr_labellist_free(&l);
			return -1;
		}
		if (l.label[i] == CXR_LABEL_UNKNOWN) {
			r->unknown++;
			free(l.image[i]);
		} else {
			push(e, n, &cap, l.image[i], l.label[i], l.line[i]);
		}
		l.image[i] = NULL;
	}
	cxr_labellist_free(&l);
	return 0;
}

/* A TSV header: tab-separated, one field "image". Tang's lines are
 * space-separated and name no image "image". */
static int is_header(const char *line)
{
	if (!strchr(line, '\t'))
		return 0;
	for (const char *p = line;; p++) {
		if (!strncmp(p, "image", 5) && (!p[5] || p[5] == '\t'))
			return 1;
		if (!(p = strchr(p, '\t')))
			return 0;
	}
}

int cxr_refstd_load(cxr_refstd *r, const char *path, const char *label_col)
{
	memset(r, 0, sizeof *r);
	r->path = cxr_xstrdup(cxr_name(path));
	int std = !path || !strcmp(path, "-");
	FILE *f = std ? stdin : fopen(path, "r");
	if (!f) {
		cxr_seterr("%s: %s", r->path, strerror(errno));
		cxr_refstd_free(r);
		return -1;
	}
	char *first = NULL;
	size_t fcap = 0;
	long ln = 0;
	entry *e = NULL;
	size_t n = 0;
	int rc = cxr_getline(f, r->path, &first, &fcap, &ln);
	if (rc == 0) {
		cxr_seterr("%s: empty (no labels)", r->path);
		rc = -1;
	} else if (rc > 0) {
		r->tsv = is_header(first);
		rc = r->tsv ? read_tsv(r, f, path, first, label_col, &e, &n)
			 : read_list(r, f, path, first, label_col, &e, &n);
	}
	free(first);
	if (!std)
		fclose(f);
	if (rc >= 0)
		rc = fill(r, e, n);
	else
		for (size_t k = 0; k < n; k++)
			free(e[k].image);
	free(e);
	if (rc < 0) {
		cxr_refstd_free(r);
		return -1;
	}
	if (!r->n) {
		cxr_seterr("%s: no image labelled 0 or 1 (%zu labelled '-')", r->path, r->unknown);
		cxr_refstd_free(r);
		return -1;
	}
	return 0;
}

void cxr_refstd_free(cxr_refstd *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->image[i]);
	free(r->image);
	free(r->label);
	free(r->line);
	free(r->path);
	memset(r, 0, sizeof *r);
}

/* ---- the join ---- */

static char *const *sort_names; /* for qsort below; one caller at a time */

static int by_name(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_names[x], sort_names[y]);
	return c ? c : (x > y) - (x < y);
}

/* The reference's entry for image, or -1. */
static long find(const cxr_refstd *r, const char *image)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->image[mid], image);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

int cxr_refstd_join_scores(cxr_scores *s, const cxr_refstd *r, cxr_refstd_join *j)
{
	memset(j, 0, sizeof *j);
	j->scores = s->n;
	j->labels = r->n;
	/* An image scored twice would be counted twice against one label. */
	size_t *ix = cxr_xmalloc((s->n ? s->n : 1) * sizeof *ix);
	for (size_t i = 0; i < s->n; i++)
		ix[i] = i;
	sort_names = s->image;
	qsort(ix, s->n, sizeof *ix, by_name);
	for (size_t i = 1; i < s->n; i++)
		if (!strcmp(s->image[ix[i]], s->image[ix[i - 1]])) {
			cxr_seterr("%s: line %ld: image %s already on line %ld; a reference "
				   "standard labels each image once", s->path, s->line[ix[i]],
				   s->image[ix[i]], s->line[ix[i - 1]]);
			free(ix);
			return -1;
		}
	free(ix);

	long *ref = cxr_xmalloc((s->n ? s->n : 1) * sizeof *ref);
	unsigned char *used = cxr_xcalloc(r->n ? r->n : 1, 1);
	for (size_t i = 0; i < s->n; i++) {
		ref[i] = find(r, s->image[i]);
		if (ref[i] >= 0) {
			used[ref[i]] = 1;
			j->matched++;
		} else if (!j->scores_unmatched++) {
			copy_name(j->first_score, sizeof j->first_score, s->image[i]);
		}
	}
	long first_line = 0;
	for (size_t k = 0; k < r->n; k++)
		if (!used[k]) {
			j->labels_unmatched++;
			if (!first_line || r->line[k] < first_line) {
				first_line = r->line[k];
				copy_name(j->first_label, sizeof j->first_label, r->image[k]);
			}
		}
	free(used);
	if (!j->matched) {
		cxr_seterr("%s: no scored image has a label in %s (scores name e.g. %s, the "
			   "reference e.g. %s): do the two name images the same way?",
			   s->path, r->path, s->n ? s->image[0] : "none", r->image[0]);
		free(ref);
		return -1;
	}
	unsigned char *keep = cxr_xmalloc(s->n ? s->n : 1);
	for (size_t i = 0; i < s->n; i++) {
		keep[i] = ref[i] >= 0;
		if (keep[i])
			s->label[i] = r->label[ref[i]];
	}
	cxr_scores_keep(s, keep);
	free(keep);
	free(ref);
	return 0;
}

void cxr_refstd_describe(char *buf, size_t size, const cxr_scores *s, const cxr_refstd *r,
			 const cxr_refstd_join *j)
{
	size_t len = (size_t)snprintf(buf, size, "%s: %zu labels, %s: %zu scores; %zu matched",
				      r->path, j->labels, s->path, j->scores, j->matched);
	if (len < size && j->scores_unmatched)
		len += (size_t)snprintf(buf + len, size - len, ", %zu score%s without a label "
					"(e.g. %s)", j->scores_unmatched,
					j->scores_unmatched == 1 ? "" : "s", j->first_score);
	else if (len < size)
		len += (size_t)snprintf(buf + len, size - len, ", every score labelled");
	if (len < size && j->labels_unmatched)
		len += (size_t)snprintf(buf + len, size - len, ", %zu label%s without a score "
					"(e.g. %s)", j->labels_unmatched,
					j->labels_unmatched == 1 ? "" : "s", j->first_label);
	else if (len < size)
		len += (size_t)snprintf(buf + len, size - len, ", every label scored");
	if (len < size && r->unknown)
		snprintf(buf + len, size - len, " (%zu images labelled '-' left out)", r->unknown);
}
