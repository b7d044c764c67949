/* refstd — another reference standard for the same scores (cxr-roc and
 * cxr-bias --reference): radiologists' labels instead of the NLP-mined
 * ones a scores file carries, joined to the scores by image name.
 *
 * A reference is either a list of "IMAGE LABEL" lines (data/labellist:
 * Tang et al.'s format, 0 normal, 1 abnormal, "-" unknown) or a TSV whose
 * header has an "image" column and a label column (default "label"; a
 * manifest or a scores file will do). A file whose first line has a tab
 * and a field "image" is a TSV; any other is a list, where every line must
 * carry a label. Labels are 0, 1 or "-"; an image twice in the reference
 * is an error naming both lines.
 *
 * The join replaces the scores' labels with the reference's and keeps only
 * the rows whose image the reference labels 0 or 1, in the scores file's
 * order (so a seeded bootstrap sees the same order as without a
 * reference). It promises to say what did not match: score rows without a
 * reference label and reference labels without a score are counted, the
 * first of each named, for the tool to report. */
#ifndef CXR_REFSTD_H
#define CXR_REFSTD_H
#include <stddef.h>

#include "eval/scores_file.h"

typedef struct cxr_refstd {
	char *path;       /* for messages */
	size_t n;         /* images labelled 0 or 1 */
	char **image;     /* (n) sorted by strcmp */
	int *label;       /* (n) */
	long *line;       /* (n) where each is in the file */
	size_t unknown;   /* images labelled "-" (not in the arrays) */
	int tsv;          /* read as a TSV (else as IMAGE LABEL lines) */
} cxr_refstd;

/* Reads a reference file (NULL or "-": stdin). label_col names the label
 * column of a TSV (NULL: "label"); given for a list, it is an error, since
 * a list has no columns. -1 with cxr_errmsg() naming file and line. */
int cxr_refstd_load(cxr_refstd *r, const char *path, const char *label_col);
void cxr_refstd_free(cxr_refstd *r);

/* What a join matched, for the report on stderr. */
typedef struct cxr_refstd_join {
	size_t scores;          /* score rows before the join */
	size_t labels;          /* r->n */
	size_t matched;         /* rows kept */
	size_t scores_unmatched; /* score rows whose image r does not label 0 or 1 */
	size_t labels_unmatched; /* r's labelled images no score row has */
	char first_score[96];   /* the first unmatched score row's image ("" none) */
	char first_label[96];   /* the first unmatched labelled image, in r's order */
} cxr_refstd_join;

/* Joins s (read with want_image; no_label is the usual way, the scores'
 * own labels being replaced) with r: s keeps the matched rows with r's
 * labels (cxr_scores_keep). -1 with a message when an image is in s
 * twice (naming both lines) or when no row matches at all (naming an
 * image of each, since a difference in naming is the likely cause); s is
 * then unchanged. */
int cxr_refstd_join_scores(cxr_scores *s, const cxr_refstd *r, cxr_refstd_join *j);

/* The sentence for stderr: "REF: N labels, SCORES: M scores; K matched,
 * A scores without a label (e.g. X), B labels without a score (e.g. Y)". */
void cxr_refstd_describe(char *buf, size_t size, const cxr_scores *s, const cxr_refstd *r,
			 const cxr_refstd_join *j);

#endif
