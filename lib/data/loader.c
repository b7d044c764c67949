/* loader — see loader.h. One background thread reads and decodes batch
 * k+1 while the caller trains on batch k; two batch buffers alternate. */
#include "data/loader.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/rng.h"

struct cxr_loader {
	cxr_pack *pack;
	char *path;
	cxr_loader_cfg cfg;
	int rank, ranks;  /* this rank's slice of each batch */
	int h, w;
	long count;
	uint64_t *order;
	int epoch;
	long next_batch;  /* the batch the caller gets next */
	cxr_batch buf[2];
	/* the prefetch thread */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int have_thread, quit;
	long want;        /* batch number the worker should prepare, -1 none */
	int ready;        /* the worker finished batch `want` into buf[want & 1] */
	int rc;           /* its result: 1 ok, -1 error */
	char err[1024];
};

/* The seed of (seed, epoch, index): each image's augmentation and each
 * epoch's shuffle. It is not cxr_seed_mix's chain (lib/base/rng), which
 * gives other numbers: moving to it would change every seeded training
 * run, and a checkpoint resumed across the change would not continue bit
 * for bit. */
static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull) ^ (c * 0xc2b2ae3d27d4eb4full);
	cxr_splitmix64(&x);
	return cxr_splitmix64(&x);
}

/* Bilinear sample of px at (y, x), edges clamped. */
static float sample(const uint8_t *px, int h, int w, float y, float x)
{
	if (y < 0) y = 0;
	if (x < 0) x = 0;
	if (y > h - 1) y = (float)(h - 1);
	if (x > w - 1) x = (float)(w - 1);
	int y0 = (int)y, x0 = (int)x;
	int y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
	float fy = y - y0, fx = x - x0;
	float a = px[y0 * w + x0] + fx * (px[y0 * w + x1] - px[y0 * w + x0]);
	float b = px[y1 * w + x0] + fx * (px[y1 * w + x1] - px[y1 * w + x0]);
	return a + fy * (b - a);
}

void cxr_image_to_input(const uint8_t *px, int h, int w, float *out, int augment,
			uint64_t seed)
{
	const float inv = 1.0f / 255.0f;
	if (!augment) {
		for (long i = 0; i < (long)h * w; i++)
			out[i] = px[i] * inv;
		return;
	}
	/* Light augmentation: shift up to 4% of the size, scale 0.95..1.05
	 * about the centre, brightness x0.9..1.1 — changes a radiograph's
	 * framing and exposure would plausibly show, nothing a label depends
	 * on (no flips: the heart is on the left). */
	cxr_rng r;
	cxr_rng_seed(&r, seed);
	float dy = (float)((cxr_rng_uniform(&r) * 2 - 1) * 0.04 * h);
	float dx = (float)((cxr_rng_uniform(&r) * 2 - 1) * 0.04 * w);
	float s = (float)(0.95 + 0.1 * cxr_rng_uniform(&r));
	float gain = (float)(0.9 + 0.2 * cxr_rng_uniform(&r));
	float cy = (h - 1) * 0.5f, cx = (w - 1) * 0.5f;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float v = sample(px, h, w, (y - cy) / s + cy - dy, (x - cx) / s + cx - dx);
			v *= gain * inv;
			out[y * w + x] = v > 1 ? 1 : v;
		}
}

/* Reads batch number b of the current epoch into buf[b & 1]. */
static int load_batch(cxr_loader *l, long b)
{
	cxr_batch *bt = &l->buf[b & 1];
	long first = b * l->cfg.batch;
	long n = l->count - first < l->cfg.batch ? l->count - first : l->cfg.batch;
	long lo = 0, hi = n;
	if (l->ranks > 1) {
		lo = l->rank * n / l->ranks;
		hi = (l->rank + 1) * n / l->ranks;
	}
	cxr_record r;
	cxr_record_init(&r);
	bt->n = (int)(hi - lo);
	bt->total = (int)n;
	bt->first = (int)lo;
	first += lo; /* the slice's first sample in the epoch's order */
	for (long i = 0; i < hi - lo; i++) {
		uint64_t k = l->order[first + i];
		if (cxr_pack_get(l->pack, k, &r))
			goto fail;
		char why[80];
		if (!cxr_record_is_gray(&r, l->h, l->w, 0, why, sizeof why)) {
			cxr_seterr("%s: record %llu (%s): shape %s, expected u8 1x%dx%d", l->path,
				   (unsigned long long)k + 1, r.meta.image, why, l->h, l->w);
			goto fail;
		}
		if (l->cfg.need_label && r.meta.label == CXR_LABEL_UNKNOWN) {
			cxr_seterr("%s: record %llu (%s): label unknown; training needs 0 or 1",
				   l->path, (unsigned long long)k + 1, r.meta.image);
			goto fail;
		}
		cxr_image_to_input(r.data, l->h, l->w, bt->x + i * l->h * l->w, l->cfg.augment,
				   mix(l->cfg.seed, (uint64_t)l->epoch, (uint64_t)(first + i)));
		bt->y[i] = r.meta.label == CXR_LABEL_UNKNOWN ? NAN : (float)r.meta.label;
		bt->index[i] = (long)k;
	}
	cxr_record_free(&r);
	return 1;
fail:
	cxr_record_free(&r);
	return -1;
}

static void *worker(void *arg)
{
	cxr_loader *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->quit && (l->want < 0 || l->ready))
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->quit)
			break;
		long b = l->want;
		pthread_mutex_unlock(&l->mu);
		int rc = load_batch(l, b);
		pthread_mutex_lock(&l->mu);
		l->rc = rc;
		if (rc < 0)
			snprintf(l->err, sizeof l->err, "%s", cxr_errmsg());
		l->ready = 1;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

cxr_loader *cxr_loader_open(cxr_pack *p, const char *path, const cxr_loader_cfg *cfg)
{
	long count = (long)cxr_pack_count(p);
	if (!count) {
		cxr_seterr("%s: the pack holds no records", path);
		return NULL;
	}
	cxr_record r;
	cxr_record_init(&r);
	if (cxr_pack_get(p, 0, &r))
		return NULL;
	char why[80];
	if (!cxr_record_is_gray(&r, 0, 0, 0, why, sizeof why)) {
		cxr_seterr("%s: record 1: %s is not a 1-channel u8 image", path, why);
		cxr_record_free(&r);
		return NULL;
	}
	cxr_loader *l = cxr_xcalloc(1, sizeof *l);
	l->pack = p;
	l->path = cxr_xstrdup(path);
	l->cfg = *cfg;
	l->h = (int)r.dims[1];
	l->w = (int)r.dims[2];
	cxr_record_free(&r);
	l->count = count;
	l->order = cxr_xmalloc((size_t)count * sizeof *l->order);
	for (int i = 0; i < 2; i++) {
		l->buf[i].x = cxr_xmalloc((size_t)cfg->batch * l->h * l->w * sizeof(float));
		l->buf[i].y = cxr_xmalloc((size_t)cfg->batch * sizeof(float));
		l->buf[i].index = cxr_xmalloc((size_t)cfg->batch * sizeof(long));
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->want = -1;
	if (!pthread_create(&l->thread, NULL, worker, l))
		l->have_thread = 1;
	return l;
}

int cxr_loader_height(const cxr_loader *l) { return l->h; }
int cxr_loader_width(const cxr_loader *l) { return l->w; }
long cxr_loader_count(const cxr_loader *l) { return l->count; }
long cxr_loader_batches(const cxr_loader *l)
{
	return (l->count + l->cfg.batch - 1) / l->cfg.batch;
}

/* Waits for the worker to be idle (nothing in flight). */
static void drain(cxr_loader *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->want >= 0 && !l->ready)
		pthread_cond_wait(&l->cv, &l->mu);
	l->want = -1;
	l->ready = 0;
	pthread_mutex_unlock(&l->mu);
}

void cxr_loader_set_slice(cxr_loader *l, int rank, int ranks)
{
	drain(l); /* nothing read for the old slice stays in flight */
	l->rank = rank;
	l->ranks = ranks;
}

static void request(cxr_loader *l, long b)
{
	if (!l->have_thread || b >= cxr_loader_batches(l))
		return;
	pthread_mutex_lock(&l->mu);
	l->want = b;
	l->ready = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void cxr_loader_start(cxr_loader *l, int epoch, long start)
{
	drain(l);
	l->epoch = epoch;
	for (long i = 0; i < l->count; i++)
		l->order[i] = (uint64_t)i;
	if (l->cfg.shuffle) {
		cxr_rng r;
		cxr_rng_seed(&r, mix(l->cfg.seed, (uint64_t)epoch, 0x5eed));
		cxr_rng_shuffle(&r, l->order, (uint64_t)l->count);
	}
	l->next_batch = start;
	request(l, start);
}

int cxr_loader_next(cxr_loader *l, const cxr_batch **b)
{
	long k = l->next_batch;
	if (k >= cxr_loader_batches(l))
		return 0;
	int rc;
	if (l->have_thread) {
		pthread_mutex_lock(&l->mu);
		while (!(l->want == k && l->ready))
			pthread_cond_wait(&l->cv, &l->mu);
		rc = l->rc;
		if (rc < 0)
			cxr_seterr("%s", l->err);
		l->want = -1;
		l->ready = 0;
		pthread_mutex_unlock(&l->mu);
	} else {
		rc = load_batch(l, k);
	}
	if (rc < 0)
		return -1;
	*b = &l->buf[k & 1];
	l->next_batch = k + 1;
	/* The worker fills the other buffer while the caller uses this one. */
	request(l, k + 1);
	return 1;
}

void cxr_loader_close(cxr_loader *l)
{
	if (!l)
		return;
	if (l->have_thread) {
		pthread_mutex_lock(&l->mu);
		l->quit = 1;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	for (int i = 0; i < 2; i++) {
		free(l->buf[i].x);
		free(l->buf[i].y);
		free(l->buf[i].index);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->order);
	free(l->path);
	free(l);
}
