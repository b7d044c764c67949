/* score_driver — what cxr-score does: a model over a tensor stream, in
 * batches, to scores TSV lines, streaming (output starts before input
 * ends; memory does not grow with the input). */
#ifndef CXR_SCORE_DRIVER_H
#define CXR_SCORE_DRIVER_H
#include <stdio.h>

/* The scores file's columns (man/cxr-score.1), then the threshold used and the
 * predicted class (score >= threshold). */
#define CXR_SCORES_HEADER "image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel\tthreshold\tpred"

typedef struct cxr_score_opts {
	int batch;
	int threads;
	double threshold; /* NaN: the model's stored threshold */
	int header;       /* print the header line */
	int quiet;
} cxr_score_opts;

/* Scores every record of the stream in against the model file. Returns
 * the number of images scored, or -1 with cxr_errmsg() set; lines already
 * written are whole. */
long cxr_score_stream(const char *model_path, FILE *in, const char *in_name, FILE *out,
		      const cxr_score_opts *o);

#endif
