/* labellist — see labellist.h. */
#include "data/labellist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/strset.h"
#include "data/sample.h"
#include "data/stream.h"
#include "data/tsv.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated field of *s (NUL-terminated in place), or
 * NULL when none is left. */
static char *field(char **s)
{
	char *p = *s;
	while (is_blank(*p))
		p++;
	if (!*p)
		return NULL;
	char *start = p;
	while (*p && !is_blank(*p))
		p++;
	if (*p)
		*p++ = 0;
	*s = p;
	return start;
}

/* Adds the entry on line ln (text, no ending; split in place); 0, or -1
 * with the message set. */
static int add_line(cxr_labellist *l, cxr_strset *seen, size_t *cap, char *s, long ln)
{
	char *name = field(&s), *lab = name ? field(&s) : NULL;
	if (!name)
		return 0;
	if (field(&s)) {
		cxr_seterr("%s: line %ld: more than two fields (want IMAGE or IMAGE LABEL, "
			   "separated by spaces)", l->path, ln);
		return -1;
	}
	if (strlen(name) > CXR_MAX_STRING) {
		cxr_seterr("%s: line %ld: an image name of %zu bytes (the limit is %d)",
			   l->path, ln, strlen(name), CXR_MAX_STRING);
		return -1;
	}
	int label = CXR_LABEL_UNKNOWN;
	if (lab && cxr_label_parse(lab, &label)) {
		cxr_seterr("%s: line %ld: label '%s' of %s is not 0, 1 or -", l->path, ln, lab,
			   name);
		return -1;
	}
	int added;
	size_t id = cxr_strset_add(seen, name, &added);
	if (!added) {
		cxr_seterr("%s: line %ld: image %s listed again (first on line %ld)", l->path, ln,
			   name, l->line[id]);
		return -1;
	}
	if (l->n == *cap) {
		*cap = *cap ? 2 * *cap : 1024;
		l->image = cxr_xrealloc(l->image, *cap * sizeof *l->image);
		l->label = cxr_xrealloc(l->label, *cap * sizeof *l->label);
		l->line = cxr_xrealloc(l->line, *cap * sizeof *l->line);
		l->bare = cxr_xrealloc(l->bare, *cap * sizeof *l->bare);
	}
	l->image[l->n] = cxr_xstrdup(name);
	l->label[l->n] = label;
	l->line[l->n] = ln;
	l->bare[l->n] = !lab;
	l->nlabel += lab != NULL;
	l->n++;
	return 0;
}

int cxr_labellist_read_after(cxr_labellist *l, FILE *f, const char *path, const char *first)
{
	memset(l, 0, sizeof *l);
	l->path = cxr_xstrdup(cxr_name(path));
	cxr_strset seen = {0}; /* ids are entry numbers: every add is new */
	char *line = first ? cxr_xstrdup(first) : NULL;
	size_t lcap = first ? strlen(first) + 1 : 0, cap = 0;
	long ln = 0;
	int rc = 0;
	if (first)
		rc = add_line(l, &seen, &cap, line, ln = 1);
	while (!rc && (rc = cxr_getline(f, l->path, &line, &lcap, &ln)) > 0)
		rc = add_line(l, &seen, &cap, line, ln);
	free(line);
	cxr_strset_free(&seen);
	if (rc < 0) {
		cxr_labellist_free(l);
		return -1;
	}
	l->lines = ln;
	return 0;
}

int cxr_labellist_read(cxr_labellist *l, FILE *f, const char *path)
{
	return cxr_labellist_read_after(l, f, path, NULL);
}

int cxr_labellist_load(cxr_labellist *l, const char *path)
{
	int std = !path || !strcmp(path, "-");
	FILE *f = std ? stdin : fopen(path, "r");
	if (!f) {
		memset(l, 0, sizeof *l);
		cxr_seterr("%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = cxr_labellist_read(l, f, path);
	if (!std)
		fclose(f);
	return rc;
}

void cxr_labellist_free(cxr_labellist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->image[i]);
	free(l->image);
	free(l->label);
	free(l->line);
	free(l->bare);
	free(l->path);
	memset(l, 0, sizeof *l);
}
