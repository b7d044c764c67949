/* resize_queue — see resize_queue.h. One mutex guards three counters over the ring:
 * head (next to take) <= next (next for a worker) <= tail (next to put).
 * A slot between head and tail belongs to the caller until queued, then to
 * the worker that claimed it until done, then to the caller again. */
#include "data/resize_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/png.h"
#include "data/area_resize.h"

struct slot {
	cxr_resized r;
	int done;
};

struct cxr_resize_queue {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a slot was queued, or quit */
	pthread_cond_t done; /* a slot was done */
	struct slot *s;      /* (nslots) */
	uint64_t head, next, tail;
	int nslots, nthreads, quit;
	uint32_t size;
	pthread_t *th;
};

/* Decodes and resizes one image into r (px or err). */
static void process(cxr_resized *r, uint32_t size)
{
	cxr_gray g;
	if (r->err)
		return;
	if (cxr_png_read_gray(r->file, &g) < 0) {
		r->err = cxr_xstrdup(cxr_errmsg());
		return;
	}
	r->px = malloc((size_t)size * size);
	if (!r->px)
		cxr_seterr("out of memory");
	if (!r->px || cxr_resize_area(r->px, size, size, g.px, g.w, g.h) < 0) {
		size_t n = strlen(r->file) + strlen(cxr_errmsg()) + 3;
		r->err = cxr_xmalloc(n);
		snprintf(r->err, n, "%s: %s", r->file, cxr_errmsg());
		free(r->px);
		r->px = NULL;
	}
	cxr_gray_free(&g);
}

static void *worker(void *arg)
{
	cxr_resize_queue *rz = arg;
	pthread_mutex_lock(&rz->mu);
	for (;;) {
		while (rz->next == rz->tail && !rz->quit)
			pthread_cond_wait(&rz->work, &rz->mu);
		if (rz->quit)
			break;
		struct slot *s = &rz->s[rz->next++ % rz->nslots];
		pthread_mutex_unlock(&rz->mu);
		process(&s->r, rz->size);
		pthread_mutex_lock(&rz->mu);
		s->done = 1;
		pthread_cond_broadcast(&rz->done);
	}
	pthread_mutex_unlock(&rz->mu);
	return NULL;
}

cxr_resize_queue *cxr_resize_queue_open(int nthreads, uint32_t size)
{
	cxr_resize_queue *rz = cxr_xcalloc(1, sizeof *rz);
	pthread_mutex_init(&rz->mu, NULL);
	pthread_cond_init(&rz->work, NULL);
	pthread_cond_init(&rz->done, NULL);
	rz->nthreads = nthreads < 1 ? 1 : nthreads;
	rz->nslots = 2 * rz->nthreads + 2;
	rz->size = size;
	rz->s = cxr_xcalloc((size_t)rz->nslots, sizeof *rz->s);
	rz->th = cxr_xcalloc((size_t)rz->nthreads, sizeof *rz->th);
	for (int i = 0; i < rz->nthreads; i++) {
		int e = pthread_create(&rz->th[i], NULL, worker, rz);
		if (e)
			cxr_die(CXR_EXIT_DATA, "cannot start a thread: %s", strerror(e));
	}
	return rz;
}

/* Only the caller's thread changes head and tail, so it may read them
 * without the lock. */
int cxr_resize_queue_full(const cxr_resize_queue *rz)
{
	return rz->tail - rz->head >= (uint64_t)rz->nslots;
}

long cxr_resize_queue_pending(const cxr_resize_queue *rz) { return (long)(rz->tail - rz->head); }

void cxr_resize_queue_put(cxr_resize_queue *rz, char *file, cxr_sample *meta, const char *err)
{
	struct slot *s = &rz->s[rz->tail % rz->nslots];
	s->r.file = file;
	s->r.meta = *meta;
	cxr_sample_init(meta);
	s->r.px = NULL;
	s->r.err = err ? cxr_xstrdup(err) : NULL;
	s->done = 0;
	pthread_mutex_lock(&rz->mu);
	rz->tail++;
	pthread_cond_signal(&rz->work);
	pthread_mutex_unlock(&rz->mu);
}

void cxr_resize_queue_take(cxr_resize_queue *rz, cxr_resized *out)
{
	struct slot *s = &rz->s[rz->head % rz->nslots];
	pthread_mutex_lock(&rz->mu);
	while (!s->done)
		pthread_cond_wait(&rz->done, &rz->mu);
	rz->head++;
	pthread_mutex_unlock(&rz->mu);
	cxr_resized_free(out);
	*out = s->r;
	memset(&s->r, 0, sizeof s->r);
	s->done = 0;
}

void cxr_resized_free(cxr_resized *r)
{
	free(r->file);
	free(r->px);
	free(r->err);
	cxr_sample_free(&r->meta);
	memset(r, 0, sizeof *r);
	cxr_sample_init(&r->meta);
}

void cxr_resize_queue_close(cxr_resize_queue *rz)
{
	if (!rz)
		return;
	pthread_mutex_lock(&rz->mu);
	rz->quit = 1;
	pthread_cond_broadcast(&rz->work);
	pthread_mutex_unlock(&rz->mu);
	for (int i = 0; i < rz->nthreads; i++)
		pthread_join(rz->th[i], NULL);
	for (int i = 0; i < rz->nslots; i++)
		cxr_resized_free(&rz->s[i].r);
	pthread_cond_destroy(&rz->work);
	pthread_cond_destroy(&rz->done);
	pthread_mutex_destroy(&rz->mu);
	free(rz->s);
	free(rz->th);
	free(rz);
}
