/* nihcsv — see nihcsv.h.
 *
 * libcsv pushes fields and record ends through callbacks; we feed it one
 * physical line at a time so that every record knows the line it started
 * on, and queue the records a line completes (usually one) for the pull
 * interface. */
#include "data/nihcsv.h"

#include <csv.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cli.h"
#include "base/gzin.h"
#include "data/tsv.h"
#include "base/strset.h"

/* One record: its fields back to back, each NUL-terminated. */
typedef struct row {
	char *buf;
	size_t len, cap;
	size_t *off; /* (nf) start of each field in buf */
	int nf, offcap;
	int bad;     /* a field held a NUL byte */
	long line;   /* where the record started */
} row;

enum { C_IMAGE, C_FINDINGS, C_FOLLOWUP, C_PATIENT, C_AGE, C_SEX, C_VIEW, NCOL };

static const char *const colname[NCOL][2] = {
	[C_IMAGE] = {"Image Index"},
	[C_FINDINGS] = {"Finding Labels"},
	[C_FOLLOWUP] = {"Follow-up #"},
	[C_PATIENT] = {"Patient ID"},
	[C_AGE] = {"Patient Age"},
	[C_SEX] = {"Patient Gender", "Patient Sex"},
	[C_VIEW] = {"View Position"},
};
static const int col_required[NCOL] = {[C_IMAGE] = 1, [C_FINDINGS] = 1, [C_PATIENT] = 1};

struct cxr_nihcsv {
	FILE *f;
	char *path;
	int flags;
	struct csv_parser p;
	row cur;          /* being filled by the callbacks */
	row *q;           /* (qcap) completed records, q[qhead..qn) unread */
	int qn, qhead, qcap;
	char *line;
	size_t linecap;
	long lineno;      /* physical lines fed so far */
	long recstart;    /* line the record in progress started on */
	int eof;
	int col[NCOL];    /* field index of each column, -1 absent */
	int nhdr;         /* header fields */
	int nhdr_min;     /* the same without trailing empty names */
	/* Image names seen, for duplicates, and the line of each. */
	cxr_strset names;
	long *name_line;  /* (names.n) */
	size_t name_cap;
	long rowline;
	long nrows, nskipped, nwarn, nshown;
};

/* ---- libcsv callbacks ---- */

static void row_reserve(row *w, size_t extra)
{
	if (w->len + extra > w->cap) {
		size_t c = w->cap ? w->cap : 256;
		while (c < w->len + extra)
			c *= 2;
		w->buf = cxr_xrealloc(w->buf, c);
		w->cap = c;
	}
}

static void on_field(void *s, size_t len, void *data)
{
	cxr_nihcsv *r = data;
	row *w = &r->cur;
	if (w->nf == w->offcap) {
		w->offcap = w->offcap ? 2 * w->offcap : 16;
		w->off = cxr_xrealloc(w->off, w->offcap * sizeof *w->off);
	}
	row_reserve(w, len + 1);
	w->off[w->nf++] = w->len;
	if (len && memchr(s, 0, len))
		w->bad = 1;
	if (len)
		memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len++] = 0;
}

static void on_record(int c, void *data)
{
	(void)c;
	cxr_nihcsv *r = data;
	if (r->qn == r->qcap) {
		int n = r->qcap ? 2 * r->qcap : 4;
		r->q = cxr_xrealloc(r->q, n * sizeof *r->q);
		memset(r->q + r->qcap, 0, (n - r->qcap) * sizeof *r->q);
		r->qcap = n;
	}
	/* Swap buffers rather than copy: the slot's old buffers become the
	 * next record's. */
	row t = r->q[r->qn];
	r->q[r->qn] = r->cur;
	r->q[r->qn].line = r->recstart;
	r->qn++;
	r->cur = t;
	r->cur.len = 0;
	r->cur.nf = 0;
	r->cur.bad = 0;
}

static const char *field(const row *w, int i) { return w->buf + w->off[i]; }

/* Feeds lines until a record is queued or the input ends. */
static int fill(cxr_nihcsv *r)
{
	while (r->qhead == r->qn && !r->eof) {
		r->qhead = r->qn = 0;
		errno = 0;
		ssize_t len = getline(&r->line, &r->linecap, r->f);
		if (len < 0) {
			if (ferror(r->f)) {
				cxr_seterr("%s: line %ld: %s", r->path, r->lineno + 1,
					   cxr_gzin_error(r->f));
				return -1;
			}
			r->eof = 1;
			if (csv_fini(&r->p, on_field, on_record, r) != 0) {
				cxr_seterr("%s: line %ld: quoted field not closed "
					   "before the end of the input", r->path, r->recstart);
				return -1;
			}
			break;
		}
		r->lineno++;
		if (cxr_text_line_check(r->line, (size_t)len, r->path, r->lineno))
			return -1;
		/* pstate 0 is libcsv's ROW_NOT_BEGUN: no record in progress,
		 * so the next one starts on this line. */
		if (r->p.pstate == 0 && r->cur.nf == 0)
			r->recstart = r->lineno;
		if (csv_parse(&r->p, r->line, len, on_field, on_record, r) != (size_t)len) {
			cxr_seterr("%s: line %ld: CSV quoting error (%s)", r->path,
				   r->lineno, csv_strerror(csv_error(&r->p)));
			return -1;
		}
	}
	return 0;
}

/* ---- duplicate image names ---- */

/* Adds name seen on line; if it was there already, returns the line it
 * was first seen on, else 0. */
static long hinsert(cxr_nihcsv *r, const char *name, long line)
{
	int added;
	size_t id = cxr_strset_add(&r->names, name, &added);
	if (!added)
		return r->name_line[id];
	if (id == r->name_cap) {
		r->name_cap = r->name_cap ? 2 * r->name_cap : 1024;
		r->name_line = cxr_xrealloc(r->name_line, r->name_cap * sizeof *r->name_line);
	}
	r->name_line[id] = line;
	return 0;
}

/* ---- rows ---- */

static void warn(cxr_nihcsv *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(cxr_nihcsv *r, const char *fmt, ...)
{
	if (r->flags & CXR_NIHCSV_QUIET || r->nshown++ >= CXR_NIHCSV_MAXWARN)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	cxr_warn("%s", buf);
}

/* A non-negative decimal integer; leading zeros allowed ("00000003" is
 * patient 3 in some copies of the file). Writes the canonical digits to
 * out when given. */
static int parse_uint(const char *s, long max, long *v, char out[32])
{
	if (!*s)
		return -1;
	for (const char *t = s; *t; t++)
		if (*t < '0' || *t > '9')
			return -1;
	while (s[0] == '0' && s[1])
		s++;
	if (strlen(s) > 18)
		return -1;
	long x = strtol(s, NULL, 10);
	if (x > max)
		return -1;
	*v = x;
	if (out)
		snprintf(out, 32, "%ld", x);
	return 0;
}

/* A field going to the TSV manifest must not break its lines or columns. */
static int tsv_safe(const char *s) { return !strpbrk(s, "\t\r\n"); }

static int is_no_finding(const char *s)
{
	/* one copy of the file writes "No_Finding" */
	return !strcasecmp(s, "No Finding") || !strcasecmp(s, "No_Finding");
}

/* Checks a record and converts it into m. -1 with the message set on a
 * malformed row; impossible values are warned about and read as unknown. */
static int convert(cxr_nihcsv *r, const row *w, cxr_sample *m)
{
	const char *p = r->path;
	long ln = w->line;
	if (w->nf < r->nhdr_min || w->nf > r->nhdr) {
		if (r->nhdr_min < r->nhdr)
			cxr_seterr("%s: line %ld: %d fields, the header has %d "
				   "(%d without its empty trailing names)",
				   p, ln, w->nf, r->nhdr, r->nhdr_min);
		else
			cxr_seterr("%s: line %ld: %d fields, the header has %d",
				   p, ln, w->nf, r->nhdr);
		return -1;
	}
	if (w->bad) {
		cxr_seterr("%s: line %ld: NUL byte in a field", p, ln);
		return -1;
	}
	const char *v[NCOL];
	for (int c = 0; c < NCOL; c++) {
		v[c] = r->col[c] >= 0 ? field(w, r->col[c]) : "";
		if (!tsv_safe(v[c])) {
			cxr_seterr("%s: line %ld: tab or line break in %s", p, ln,
				   colname[c][0]);
			return -1;
		}
	}
	if (!*v[C_IMAGE]) {
		cxr_seterr("%s: line %ld: empty Image Index", p, ln);
		return -1;
	}
	long patient, followup = -1;
	char pid[32];
	if (parse_uint(v[C_PATIENT], LONG_MAX, &patient, pid) < 0) {
		cxr_seterr("%s: line %ld: Patient ID '%s' is not a "
			   "non-negative integer", p, ln, v[C_PATIENT]);
		return -1;
	}
	if (r->col[C_FOLLOWUP] >= 0
	    && parse_uint(v[C_FOLLOWUP], INT_MAX, &followup, NULL) < 0) {
		cxr_seterr("%s: line %ld: Follow-up # '%s' is not a "
			   "non-negative integer", p, ln, v[C_FOLLOWUP]);
		return -1;
	}
	long first = hinsert(r, v[C_IMAGE], ln);
	if (first) {
		cxr_seterr("%s: line %ld: image %s again (first on line %ld)",
			   p, ln, v[C_IMAGE], first);
		return -1;
	}

	cxr_sample_free(m);
	m->image = cxr_xstrdup(v[C_IMAGE]);
	m->findings = cxr_xstrdup(v[C_FINDINGS]);
	m->patient = cxr_xstrdup(pid);
	m->view = cxr_xstrdup(v[C_VIEW]);
	m->followup = (int)followup;
	if (!*v[C_FINDINGS]) {
		r->nwarn++;
		warn(r, "%s: line %ld: empty Finding Labels; label unknown", p, ln);
		m->label = CXR_LABEL_UNKNOWN;
	} else
		m->label = !is_no_finding(v[C_FINDINGS]);
	double age = NAN;
	const char *a = v[C_AGE];
	if (*a && strcmp(a, "-")) {
		if (cxr_age_parse(a, &age) < 0 || !(age >= 0 && age <= 120)) {
			r->nwarn++;
			warn(r, "%s: line %ld: impossible age '%s'; read as unknown",
			     p, ln, a);
			age = NAN;
		}
	}
	m->age = age;
	const char *s = v[C_SEX];
	m->sex = CXR_SEX_UNKNOWN;
	if (!strcasecmp(s, "M"))
		m->sex = CXR_SEX_M;
	else if (!strcasecmp(s, "F"))
		m->sex = CXR_SEX_F;
	else if (*s && strcmp(s, "-")) {
		r->nwarn++;
		warn(r, "%s: line %ld: unknown sex '%s'; read as unknown", p, ln, s);
	}
	return 0;
}

static int find_columns(cxr_nihcsv *r, row *h)
{
	/* A UTF-8 byte order mark, as spreadsheets write, is not part of
	 * the first name. */
	if (h->nf && !strncmp(h->buf, "\xEF\xBB\xBF", 3))
		h->off[0] += 3;
	r->nhdr = r->nhdr_min = h->nf;
	while (r->nhdr_min > 0 && !*field(h, r->nhdr_min - 1))
		r->nhdr_min--;
	for (int c = 0; c < NCOL; c++) {
		r->col[c] = -1;
		for (int i = 0; i < h->nf; i++)
			for (int k = 0; k < 2 && colname[c][k]; k++) {
				if (strcasecmp(field(h, i), colname[c][k]))
					continue;
				if (r->col[c] >= 0) {
					cxr_seterr("%s: line %ld: two columns named "
						   "'%s' (fields %d and %d)", r->path,
						   h->line, colname[c][k], r->col[c] + 1, i + 1);
					return -1;
				}
				r->col[c] = i;
			}
		if (r->col[c] < 0 && col_required[c]) {
			cxr_seterr("%s: line %ld: no '%s' column in the header",
				   r->path, h->line, colname[c][0]);
			return -1;
		}
	}
	return 0;
}

cxr_nihcsv *cxr_nihcsv_open(FILE *f, const char *path, int flags)
{
	cxr_nihcsv *r = cxr_xcalloc(1, sizeof *r);
	r->f = f;
	r->path = cxr_xstrdup(cxr_name(path));
	r->flags = flags;
	/* Strict: a quote inside an unquoted field, or one never closed,
	 * is an error rather than data. */
	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		free(r->path);
		free(r);
		cxr_seterr("out of memory");
		return NULL;
	}
	if (fill(r) < 0)
		goto fail;
	if (r->qhead == r->qn) {
		cxr_seterr("%s: empty input, no header line", r->path);
		goto fail;
	}
	row *h = &r->q[r->qhead++];
	if (find_columns(r, h) < 0)
		goto fail;
	r->rowline = h->line;
	return r;
fail:
	cxr_nihcsv_close(r);
	return NULL;
}

int cxr_nihcsv_next(cxr_nihcsv *r, cxr_sample *m)
{
	for (;;) {
		if (fill(r) < 0)
			return -1;
		if (r->qhead == r->qn) {
			if (r->nshown > CXR_NIHCSV_MAXWARN && !(r->flags & CXR_NIHCSV_QUIET))
				cxr_warn("%s: %ld more warnings not shown", r->path,
					 r->nshown - CXR_NIHCSV_MAXWARN);
			r->nshown = 0;
			return 0;
		}
		row *w = &r->q[r->qhead++];
		r->rowline = w->line;
		if (convert(r, w, m) == 0) {
			r->nrows++;
			return 1;
		}
		if (!(r->flags & CXR_NIHCSV_SKIP_BAD))
			return -1;
		r->nskipped++;
		warn(r, "%s; row skipped", cxr_errmsg());
	}
}

long cxr_nihcsv_lineno(const cxr_nihcsv *r) { return r->rowline; }
long cxr_nihcsv_nrows(const cxr_nihcsv *r) { return r->nrows; }
long cxr_nihcsv_nskipped(const cxr_nihcsv *r) { return r->nskipped; }
long cxr_nihcsv_nwarnings(const cxr_nihcsv *r) { return r->nwarn; }

static void row_free(row *w)
{
	free(w->buf);
	free(w->off);
}

void cxr_nihcsv_close(cxr_nihcsv *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	row_free(&r->cur);
	for (int i = 0; i < r->qcap; i++)
		row_free(&r->q[i]);
	free(r->q);
	cxr_strset_free(&r->names);
	free(r->name_line);
	free(r->line);
	free(r->path);
	free(r);
}
