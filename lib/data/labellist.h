/* labellist — lists of image names, each with an optional label: NIH's
 * test_list.txt (a name a line) and the published splits and reference
 * standards in Tang et al.'s format ("00011136_001.png 1": the name, a
 * space, 0 normal or 1 abnormal). Read by cxr-split (--train-list,
 * --val-list, --test-list) and, through eval/refstd, by cxr-roc and
 * cxr-bias (--reference).
 *
 * A line is IMAGE or IMAGE LABEL, the two separated by spaces or tabs;
 * LABEL is 0, 1 or "-" (unknown). Blank lines are skipped, leading and
 * trailing blanks dropped, a CRLF ending or a byte-order mark read as if
 * absent, and a last line without its final newline read like any other
 * (one of Tang's lists ends so). Every line must be text (tsv.h's
 * cxr_getline). A third field, a label other than 0, 1 or "-", or an
 * image named twice is an error naming the file and line. */
#ifndef CXR_LABELLIST_H
#define CXR_LABELLIST_H
#include <stddef.h>
#include <stdio.h>

typedef struct cxr_labellist {
	char *path;    /* for messages ("stdin" for -) */
	size_t n;      /* entries */
	char **image;  /* (n) in the file's order */
	int *label;    /* (n) 0, 1, or CXR_LABEL_UNKNOWN (no label or "-") */
	long *line;    /* (n) the line of each */
	unsigned char *bare; /* (n) 1 where the line was the name alone */
	size_t nlabel; /* entries whose line had a label field (0, 1 or -) */
	long lines;    /* lines read, a last line without its newline included */
} cxr_labellist;

/* Reads a whole list from f (not closed); path names it in messages.
 * -1 with cxr_errmsg() naming file and line; l is then empty. */
int cxr_labellist_read(cxr_labellist *l, FILE *f, const char *path);
/* The same when the caller has read the first line itself (as
 * cxr_getline gives it, to see whether the file is a list at all): first
 * is line 1, the rest comes from f. */
int cxr_labellist_read_after(cxr_labellist *l, FILE *f, const char *path, const char *first);
/* The same on a named file (NULL or "-": stdin), closing it. */
int cxr_labellist_load(cxr_labellist *l, const char *path);
void cxr_labellist_free(cxr_labellist *l);

#endif
