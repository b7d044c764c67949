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
	int precision;    /* CXR_PREC_* (nn/precision.h), whatever the model
			   * was trained in */
	double threshold; /* NaN: the model's stored threshold */
	int header;       /* print the header line */
	int quiet;
	const char *out_name; /* the output's name for messages; NULL: "stdout" */
} cxr_score_opts;

/* What cxr_score_stream returns when out is a pipe whose reader went
 * away (EPIPE; cxr_errmsg() says so): not an error to report, the end of
 * the work (cxr-score exits 1 quietly, as after `cxr-score | head`). */
#define CXR_SCORE_CLOSED (-2)

/* Scores every record of the stream in against the model file. Returns
 * the number of images scored, -1 with cxr_errmsg() set, or
 * CXR_SCORE_CLOSED; lines already written are whole. Never exits: a
 * signal (cxr_stop_signal) ends it early with the lines scored so far,
 * and the caller decides. */
long cxr_score_stream(const char *model_path, FILE *in, const char *in_name, FILE *out,
		      const cxr_score_opts *o);

#endif
