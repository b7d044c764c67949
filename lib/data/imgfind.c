/* imgfind — see imgfind.h. A sorted array searched by bsearch: built once,
 * looked up once per manifest row, and sorting finds the duplicates. */
#include "data/imgfind.h"

#include <errno.h>
#include <fts.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cli.h"

struct entry {
	const char *name; /* base name, inside path */
	char *path;
};

struct cxr_imgfind {
	char *root;
	struct entry *e;
	size_t n, cap;
};

static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->path, y->path);
}

static int is_png_name(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

static void add(cxr_imgfind *ix, const char *path)
{
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? 2 * ix->cap : 1024;
		ix->e = cxr_xrealloc(ix->e, ix->cap * sizeof *ix->e);
	}
	char *p = cxr_xstrdup(path);
	const char *slash = strrchr(p, '/');
	ix->e[ix->n].path = p;
	ix->e[ix->n].name = slash ? slash + 1 : p;
	ix->n++;
}

cxr_imgfind *cxr_imgfind_open(const char *root)
{
	cxr_imgfind *ix = cxr_xcalloc(1, sizeof *ix);
	ix->root = cxr_xstrdup(root);
	char *argv[] = { ix->root, NULL };
	/* FTS_LOGICAL follows links, as a user pointing --root at a tree of
	 * symlinked download folders expects; fts reports loops as FTS_DC. */
	FTS *fts = fts_open(argv, FTS_LOGICAL | FTS_NOCHDIR, NULL);
	if (!fts) {
		cxr_seterr("%s: %s", root, strerror(errno));
		goto fail;
	}
	FTSENT *f;
	while ((f = fts_read(fts))) {
		switch (f->fts_info) {
		case FTS_F:
			if (is_png_name(f->fts_name))
				add(ix, f->fts_path);
			break;
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			cxr_seterr("%s: %s", f->fts_path, strerror(f->fts_errno));
			fts_close(fts);
			goto fail;
		default: /* directories, loops, other files */
			break;
		}
	}
	if (errno) {
		/* fts_read ends with NULL and errno 0 after the last entry */
		cxr_seterr("%s: %s", root, strerror(errno));
		fts_close(fts);
		goto fail;
	}
	fts_close(fts);

	qsort(ix->e, ix->n, sizeof *ix->e, by_name);
	for (size_t i = 1; i < ix->n; i++)
		if (strcmp(ix->e[i - 1].name, ix->e[i].name) == 0) {
			cxr_seterr("%s: two images named %s: %s and %s", root,
				ix->e[i].name, ix->e[i - 1].path, ix->e[i].path);
			goto fail;
		}
	return ix;
fail:
	cxr_imgfind_free(ix);
	return NULL;
}

static int name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct entry *)elem)->name);
}

const char *cxr_imgfind_get(const cxr_imgfind *ix, const char *name)
{
	const struct entry *e = bsearch(name, ix->e, ix->n, sizeof *ix->e, name_cmp);
	return e ? e->path : NULL;
}

size_t cxr_imgfind_count(const cxr_imgfind *ix) { return ix->n; }
const char *cxr_imgfind_root(const cxr_imgfind *ix) { return ix->root; }

void cxr_imgfind_free(cxr_imgfind *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n; i++)
		free(ix->e[i].path);
	free(ix->e);
	free(ix->root);
	free(ix);
}
