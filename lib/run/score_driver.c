/* score_driver — see score_driver.h. */
#include "run/score_driver.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/loader.h"
#include "data/model_file.h"
#include "nn/resnet.h"
#include "run/resnet_file.h"
#include "data/stream.h"

typedef struct pending {
	cxr_sample *meta; /* (batch) */
	float *x;       /* (batch, 1, H, W) */
	int n;
} pending;

/* Scores and writes the pending batch: 0, -1 with cxr_errmsg() set, or
 * CXR_SCORE_CLOSED when the output's reader went away. */
static int flush_batch(cxr_resnet *net, pending *p, FILE *out, const char *out_name,
		       const char *digest, double thr)
{
	if (!p->n)
		return 0;
	const float *z = cxr_resnet_forward(net, p->x, p->n, 0);
	if (!z)
		return -1;
	for (int i = 0; i < p->n; i++) {
		const cxr_sample *m = &p->meta[i];
		double s = 1 / (1 + exp(-(double)z[i]));
		char age[32];
		cxr_age_str(m->age, age);
		fprintf(out, "%s\t%.17g\t%s\t%s\t%s\t%s\t%s\t%s\t%.17g\t%d\n", m->image, s,
			cxr_label_str(m->label), m->patient && *m->patient ? m->patient : "-", age,
			cxr_sex_str(m->sex), m->view && *m->view ? m->view : "-", digest, thr,
			s >= thr);
		cxr_sample_free(&p->meta[i]);
	}
	p->n = 0;
	/* Whole lines reach the reader batch by batch: a pipe consumer sees
	 * results while the input is still arriving. */
	if (fflush(out) || ferror(out)) {
		int e = errno;
		const char *name = out_name ? out_name : "stdout";
		/* The reader went away (cxr-score | head): the caller decides
		 * (cxr-score stops quietly with status 1, as cxr_out_commit
		 * does). */
		if (e == EPIPE) {
			cxr_seterr("%s: the reader went away (broken pipe)", name);
			return CXR_SCORE_CLOSED;
		}
		cxr_seterr("%s: write error: %s", name, strerror(e));
		return -1;
	}
	return 0;
}

long cxr_score_stream(const char *model_path, FILE *in, const char *in_name, FILE *out,
		      const cxr_score_opts *o)
{
	cxr_model *m = cxr_model_load(model_path);
	if (!m)
		return -1;
	double thr = o->threshold;
	if (isnan(thr)) {
		const char *t = cxr_model_get_meta(m, "threshold");
		thr = t ? strtod(t, NULL) : 0.5;
	}
	char digest[32];
	snprintf(digest, sizeof digest, "%s", cxr_model_digest(m));
	cxr_resnet_set_threads(o->threads);
	cxr_resnet *net = cxr_resnet_from_model(m, o->batch);
	cxr_model_free(m);
	if (!net)
		return -1;
	if (cxr_resnet_set_precision(net, o->precision)) {
		cxr_resnet_free(net);
		return -1;
	}
	const cxr_resnet_config *cfg = cxr_resnet_get_config(net);
	int h = cfg->height, w = cfg->width;
	pending p = {cxr_xcalloc((size_t)o->batch, sizeof(cxr_sample)),
		     cxr_xmalloc((size_t)o->batch * h * w * sizeof(float)), 0};
	for (int i = 0; i < o->batch; i++)
		cxr_sample_init(&p.meta[i]);
	cxr_reader *rd = cxr_reader_open(in, in_name);
	cxr_record r;
	cxr_record_init(&r);
	cxr_progress prog;
	cxr_progress_start(&prog, "images", 0, o->quiet);
	long n = 0;
	int got, rc = 0;
	if (o->header)
		fputs(CXR_SCORES_HEADER "\n", out);
	while ((got = cxr_reader_next(rd, &r)) == 1) {
		char why[80];
		if (!cxr_record_is_gray(&r, h, w, 0, why, sizeof why)) {
			cxr_seterr("%s: record %llu (%s): %s, but the model %s takes u8 1x%dx%d "
				   "(resize with cxr-resize --size %d)",
				   cxr_name(in_name), (unsigned long long)cxr_reader_count(rd),
				   r.meta.image, why, model_path, h, w, h);
			rc = -1;
			break;
		}
		cxr_image_to_input(r.data, h, w, p.x + (size_t)p.n * h * w, 0, 0);
		cxr_sample_copy(&p.meta[p.n], &r.meta);
		if (!p.meta[p.n].image)
			p.meta[p.n].image = cxr_xstrdup("-");
		if (++p.n == o->batch && (rc = flush_batch(net, &p, out, o->out_name, digest, thr)))
			break;
		cxr_progress_update(&prog, ++n);
		if (cxr_stop_signal)
			break;
	}
	if (got < 0)
		rc = -1;
	/* Score what arrived before an error too: those lines are whole. */
	if (!cxr_stop_signal && rc != CXR_SCORE_CLOSED) {
		char keep[1024];
		snprintf(keep, sizeof keep, "%s", rc ? cxr_errmsg() : "");
		int frc = flush_batch(net, &p, out, o->out_name, digest, thr);
		if (frc)
			rc = frc;
		else if (rc)
			cxr_seterr("%s", keep);
	}
	cxr_progress_end(&prog);
	for (int i = 0; i < o->batch; i++)
		cxr_sample_free(&p.meta[i]);
	free(p.meta);
	free(p.x);
	cxr_record_free(&r);
	cxr_reader_close(rd);
	cxr_resnet_free(net);
	return rc ? rc : n;
}
