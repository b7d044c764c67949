/* scores_file — the scores TSV (cxr-score's output) read into arrays for
 * cxr-roc and cxr-bias: columns found by name, rows whose label is "-"
 * skipped and counted, every bad value reported with file and line. Also
 * the grouping of rows by a column (cxr-bias --by) and the number format
 * of result tables. */
#ifndef CXR_SCORES_FILE_H
#define CXR_SCORES_FILE_H
#include <stddef.h>
#include <stdio.h>

#include "base/strset.h"

typedef struct cxr_scores_opt {
	const char *label_col;  /* NULL: "label" */
	int no_label;           /* the labels come from elsewhere (eval/refstd): the
				 * label column is not read, every row is kept with
				 * label CXR_LABEL_UNKNOWN until they are set */
	int want_image;         /* keep the image column (required then) */
	const char **group_cols; /* (ngroup) further columns kept as text */
	int ngroup;
} cxr_scores_opt;

/* A text column with its values interned: rows hold small integers. */
typedef struct cxr_column {
	int *id;          /* (rows) index into value */
	char **value;     /* (nvalue) distinct values, in order of appearance */
	long *line;       /* (nvalue) the line where each value first appears */
	int nvalue;
	cxr_strset set;   /* owns the values; value is its string array */
	size_t line_cap;
} cxr_column;

typedef struct cxr_scores {
	char *path;       /* for messages ("stdin" for -) */
	size_t n;         /* rows kept: label 0 or 1 (every row under no_label) */
	double *score;    /* (n) finite */
	int *label;       /* (n) 0 or 1 (unknown under no_label) */
	long *line;       /* (n) line number of each row in the file */
	char **image;     /* (n) with want_image, else NULL */
	cxr_column *group; /* (ngroup) the group columns, for the n rows kept */
	int ngroup;
	long skipped;     /* rows whose label is "-" */
	double threshold; /* the "threshold" column's value; NaN without one */
	char *model;      /* the "model" column's value; NULL without one */
} cxr_scores;

/* Reads a whole scores file. Requires the score and label columns (and
 * image, group columns when asked); a score must be a finite number, a
 * label 0, 1 or "-". The model and threshold columns, when present, must
 * hold one value throughout (scores of two models never mix unnoticed).
 * -1 with cxr_errmsg() naming file, line and column. A file with a header
 * but no labelled row reads as n = 0. */
int cxr_scores_read(cxr_scores *s, FILE *f, const char *path, const cxr_scores_opt *o);
void cxr_scores_free(cxr_scores *s);
/* cxr_scores_read on a named file ("-" or NULL: stdin), closing it. */
int cxr_scores_load(cxr_scores *s, const char *path, const cxr_scores_opt *o);
/* Keeps the rows i with keep[i] (in their order) and drops the rest,
 * group columns included: a value that only dropped rows had is no longer
 * among a column's values. */
void cxr_scores_keep(cxr_scores *s, const unsigned char *keep /* (s->n) */);
/* -1 with a message unless s has at least one row of each class (an AUC
 * and a ROC curve need both). */
int cxr_scores_need_both(const cxr_scores *s);

/* Pairs the rows of two scorings of the same images (cxr-roc a.tsv b.tsv):
 * b_of_a[i] is the row of b with a's image i. -1 with a message naming
 * the image if an image appears twice in a file or in one file only, or
 * if its labels differ. Both need want_image. */
int cxr_scores_match(const cxr_scores *a, const cxr_scores *b, size_t *b_of_a /* (a->n) */);

/* Groups for cxr-bias --by COLUMN[:WIDTH]. Without a width (width <= 0)
 * each distinct value is a group, ordered by strcmp. With a width, values
 * are numbers put in buckets [k·width, (k+1)·width) named by their lower
 * bound; for the column "age" the buckets from the largest multiple of
 * width not above 90 up are one, named e.g. "90+" (NIH and HIPAA group
 * the oldest ages). "-" (unknown) is a group of its own, listed last.
 * id[i] (n) is row i's group; names (ngroups) are returned, freed with
 * cxr_groups_free. -1 with a message naming file and line if a value is
 * not a number under a width. */
typedef struct cxr_groups {
	size_t n;        /* rows */
	int *id;         /* (n) */
	char **names;    /* (ngroups) */
	int ngroups;
} cxr_groups;
int cxr_groups_build(cxr_groups *g, const cxr_scores *s, int col, const char *colname,
		     double width);
void cxr_groups_free(cxr_groups *g);

/* A number for a result table: the shortest "%.*g" (15 to 17 digits)
 * that reads back to the same double; "-" for NaN. */
const char *cxr_fmt_num(char buf[32], double v);

#endif
