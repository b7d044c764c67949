/* tsv — see tsv.h. */
#include "data/tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/stream.h"

struct cxr_tsv {
	FILE *f;
	char *path;
	char **names;  /* header fields, owned by head */
	char *head;
	int ncols;
	char *line;    /* current row; fields point into it */
	size_t cap;
	char **fields;
	long lineno;
};

/* Splits s at tabs in place; returns the count, filling up to max. */
static int split_tabs(char *s, char **out, int max)
{
	int n = 0;
	for (;;) {
		if (n < max)
			out[n] = s;
		n++;
		char *t = strchr(s, '\t');
		if (!t)
			break;
		*t = 0;
		s = t + 1;
	}
	return n;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

cxr_tsv *cxr_tsv_open_with_header(FILE *f, const char *path, const char *header)
{
	cxr_tsv *t = cxr_xcalloc(1, sizeof *t);
	t->f = f;
	t->path = cxr_xstrdup(cxr_name(path));
	t->head = cxr_xstrdup(header);
	chomp(t->head);
	int n = 1;
	for (const char *p = t->head; *p; p++)
		n += *p == '\t';
	t->ncols = n;
	t->names = cxr_xcalloc((size_t)n, sizeof *t->names);
	split_tabs(t->head, t->names, n);
	t->fields = cxr_xcalloc((size_t)n, sizeof *t->fields);
	t->lineno = 1;
	return t;
}

cxr_tsv *cxr_tsv_open(FILE *f, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	if (getline(&line, &cap, f) < 0) {
		free(line);
		if (ferror(f))
			cxr_seterr("%s: %s", cxr_name(path), strerror(errno));
		else
			cxr_seterr("%s: empty input (no header line)", cxr_name(path));
		return NULL;
	}
	cxr_tsv *t = cxr_tsv_open_with_header(f, path, line);
	free(line);
	return t;
}

int cxr_tsv_ncols(const cxr_tsv *t) { return t->ncols; }
const char *cxr_tsv_colname(const cxr_tsv *t, int i) { return t->names[i]; }
long cxr_tsv_lineno(const cxr_tsv *t) { return t->lineno; }
const char *cxr_tsv_path(const cxr_tsv *t) { return t->path; }

int cxr_tsv_col(const cxr_tsv *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (!strcmp(t->names[i], name))
			return i;
	return -1;
}

/* Whether s (n bytes) is UTF-8 as RFC 3629 has it: no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* k continuation bytes follow a lead byte */
		size_t k = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
			 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
		if (!k || k >= n - i)
			return 0;
		unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xBF)
				return 0;
		i += k + 1;
	}
	return 1;
}

int cxr_text_line_check(const char *line, size_t len, const char *path, long lineno)
{
	if (memchr(line, 0, len)) {
		cxr_seterr("%s: line %ld: a NUL byte (is this a text file?)", path, lineno);
		return -1;
	}
	if (!utf8_valid((const unsigned char *)line, len)) {
		cxr_seterr("%s: line %ld: not UTF-8 text", path, lineno);
		return -1;
	}
	return 0;
}

int cxr_getline(FILE *f, const char *path, char **line, size_t *cap, long *lineno)
{
	errno = 0;
	ssize_t len = getline(line, cap, f);
	if (len < 0) {
		if (ferror(f)) {
			cxr_seterr("%s: line %ld: %s", path, *lineno + 1, strerror(errno));
			return -1;
		}
		return 0;
	}
	++*lineno;
	/* a byte-order mark some editors put before the first line */
	if (*lineno == 1 && len >= 3 && !memcmp(*line, "\xEF\xBB\xBF", 3)) {
		memmove(*line, *line + 3, (size_t)len - 2);
		len -= 3;
	}
	if (cxr_text_line_check(*line, (size_t)len, path, *lineno))
		return -1;
	chomp(*line);
	return 1;
}

int cxr_tsv_next(cxr_tsv *t)
{
	for (;;) {
		int r = cxr_getline(t->f, t->path, &t->line, &t->cap, &t->lineno);
		if (r <= 0)
			return r;
		if (!t->line[0])
			continue;
		int n = split_tabs(t->line, t->fields, t->ncols);
		if (n != t->ncols) {
			cxr_seterr("%s: line %ld: %d fields, the header has %d", t->path, t->lineno,
				   n, t->ncols);
			return -1;
		}
		/* Every field travels as a string of a stream record or a
		 * scores line: refuse what the stream could not carry here,
		 * naming the line, rather than later or not at all. */
		for (int i = 0; i < n; i++) {
			size_t len = strlen(t->fields[i]);
			if (len > CXR_MAX_STRING) {
				cxr_seterr("%s: line %ld: column '%s' holds %zu bytes (the limit is %d)",
					   t->path, t->lineno, t->names[i], len, CXR_MAX_STRING);
				return -1;
			}
		}
		return 1;
	}
}

const char *cxr_tsv_field(const cxr_tsv *t, int col) { return t->fields[col]; }

void cxr_tsv_close(cxr_tsv *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->names);
	free(t->head);
	free(t->line);
	free(t->fields);
	free(t);
}

static const char *manifest_names[8] = {"image", "label", "findings", "patient",
					"followup", "age", "sex", "view"};

int cxr_manifest_cols_find(const cxr_tsv *t, cxr_manifest_cols *mc)
{
	for (int i = 0; i < 8; i++)
		mc->c[i] = cxr_tsv_col(t, manifest_names[i]);
	if (mc->c[0] < 0) {
		cxr_seterr("%s: no 'image' column in the header", t->path);
		return -1;
	}
	return 0;
}

static const char *field_or_empty(const cxr_tsv *t, int col)
{
	return col < 0 ? "" : t->fields[col];
}

static char *text_or_null(const char *s)
{
	return strcmp(s, "-") && *s ? cxr_xstrdup(s) : cxr_xstrdup("");
}

int cxr_manifest_row(const cxr_tsv *t, const cxr_manifest_cols *mc, cxr_sample *m)
{
	cxr_sample_free(m);
	const char *image = field_or_empty(t, mc->c[0]);
	if (!*image || !strcmp(image, "-")) {
		cxr_seterr("%s: line %ld: empty image name", t->path, t->lineno);
		return -1;
	}
	const char *bad = NULL, *val = NULL;
	if (cxr_label_parse(val = field_or_empty(t, mc->c[1]), &m->label))
		bad = "label";
	else if (cxr_age_parse(val = field_or_empty(t, mc->c[5]), &m->age))
		bad = "age";
	else if (cxr_sex_parse(val = field_or_empty(t, mc->c[6]), &m->sex))
		bad = "sex";
	else {
		val = field_or_empty(t, mc->c[4]);
		if (*val && strcmp(val, "-")) {
			char *end;
			long fu = strtol(val, &end, 10);
			if (*end || fu < 0 || fu > 1000000)
				bad = "followup";
			else
				m->followup = (int)fu;
		}
	}
	if (bad) {
		cxr_seterr("%s: line %ld: %s: bad %s '%s'", t->path, t->lineno, image, bad, val);
		cxr_sample_free(m);
		return -1;
	}
	m->image = cxr_xstrdup(image);
	m->findings = text_or_null(field_or_empty(t, mc->c[2]));
	m->patient = text_or_null(field_or_empty(t, mc->c[3]));
	m->view = text_or_null(field_or_empty(t, mc->c[7]));
	return 0;
}
