/* imglist — see imglist.h. */
#include "data/imglist.h"

#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/tsv.h"

struct cxr_imglist {
	FILE *f;
	char *path;              /* for messages */
	const cxr_imgfind *root; /* NULL: names are paths */
	cxr_tsv *tsv;            /* a manifest, or NULL for a bare list */
	cxr_manifest_cols mc;
	char *line;              /* bare list: the current line */
	size_t cap;
	long lineno;
	int pending;             /* bare list: line holds the unread first line */
};

/* The next line: 1, 0 at the end, -1 on an error (with the message set). */
static int read_line(cxr_imglist *l)
{
	return cxr_getline(l->f, l->path, &l->line, &l->cap, &l->lineno);
}

cxr_imglist *cxr_imglist_open(FILE *f, const char *path, const cxr_imgfind *root)
{
	cxr_imglist *l = cxr_xcalloc(1, sizeof *l);
	l->f = f;
	l->path = cxr_xstrdup(cxr_name(path));
	l->root = root;
	int r = read_line(l);
	if (r < 0) {
		cxr_imglist_close(l);
		return NULL;
	}
	if (r == 0)
		return l; /* empty: no images */
	size_t first = strcspn(l->line, "\t");
	if (first == 5 && !strncmp(l->line, "image", 5)) {
		l->tsv = cxr_tsv_open_with_header(f, path, l->line);
		if (!l->tsv || cxr_manifest_cols_find(l->tsv, &l->mc) < 0) {
			cxr_imglist_close(l);
			return NULL;
		}
	} else {
		l->pending = 1;
	}
	return l;
}

int cxr_imglist_is_manifest(const cxr_imglist *l) { return l->tsv != NULL; }

/* The file for an image name: itself, or its path below the root. */
static int locate(cxr_imglist *l, const char *name, long lineno, char **file)
{
	*file = NULL;
	if (!l->root) {
		*file = cxr_xstrdup(name);
		return 0;
	}
	if (strchr(name, '/')) {
		cxr_seterr("%s: line %ld: %s: a name with a '/' cannot be looked up "
			"below --root", l->path, lineno, name);
		return -1;
	}
	const char *p = cxr_imgfind_get(l->root, name);
	if (p)
		*file = cxr_xstrdup(p);
	return 0;
}

int cxr_imglist_next(cxr_imglist *l, char **file, cxr_sample *m)
{
	*file = NULL;
	if (l->tsv) {
		int r = cxr_tsv_next(l->tsv);
		if (r <= 0)
			return r;
		if (cxr_manifest_row(l->tsv, &l->mc, m) < 0)
			return -1;
		return locate(l, m->image, cxr_tsv_lineno(l->tsv), file) < 0 ? -1 : 1;
	}
	for (;;) {
		if (l->pending) {
			l->pending = 0;
		} else {
			int r = read_line(l);
			if (r <= 0)
				return r;
		}
		if (l->line[0])
			break;
	}
	if (strchr(l->line, '\t')) {
		cxr_seterr("%s: line %ld: a tab in a list of PNG paths (a manifest "
			"starts with a header line whose first field is 'image')",
			l->path, l->lineno);
		return -1;
	}
	const char *slash = strrchr(l->line, '/');
	const char *base = slash ? slash + 1 : l->line;
	if (!*base) {
		cxr_seterr("%s: line %ld: %s: not a file name", l->path, l->lineno, l->line);
		return -1;
	}
	cxr_sample_free(m);
	m->image = cxr_xstrdup(base);
	return locate(l, l->line, l->lineno, file) < 0 ? -1 : 1;
}

void cxr_imglist_close(cxr_imglist *l)
{
	if (!l)
		return;
	if (l->tsv)
		cxr_tsv_close(l->tsv);
	free(l->line);
	free(l->path);
	free(l);
}
