/* resize_queue — PNG files decoded and resized to size x size on worker threads,
 * handed back in the order they were queued.
 *
 * A ring of 2*nthreads+2 slots bounds what is in flight (memory: one
 * decoded image per worker plus one size x size result per slot). The
 * caller queues while cxr_resize_queue_full() is false and takes the oldest;
 * since each image is done whole by one thread, the pixels do not depend on
 * the thread count. */
#ifndef CXR_RESIZE_QUEUE_H
#define CXR_RESIZE_QUEUE_H
#include <stdint.h>

#include "data/sample.h"

typedef struct cxr_resized {
	char *file;    /* the PNG path, or NULL if it was not found */
	cxr_sample meta;
	uint8_t *px;   /* (size, size), NULL on failure */
	char *err;     /* on failure, "file: what"; NULL on success */
} cxr_resized;

typedef struct cxr_resize_queue cxr_resize_queue;

/* Starts nthreads (>= 1) workers. Dies if threads cannot be created. */
cxr_resize_queue *cxr_resize_queue_open(int nthreads, uint32_t size);
int cxr_resize_queue_full(const cxr_resize_queue *rz);
long cxr_resize_queue_pending(const cxr_resize_queue *rz); /* queued, not yet taken */
/* Queues one image, taking over file (malloc'd) and meta (left empty).
 * With err set, the image is not read and comes back failed with a copy of
 * err (an image not found, say). Must not be called when full. */
void cxr_resize_queue_put(cxr_resize_queue *rz, char *file, cxr_sample *meta, const char *err);
/* Waits for the oldest queued image and moves it into out (whatever out
 * held is freed first). Must not be called when nothing is pending. */
void cxr_resize_queue_take(cxr_resize_queue *rz, cxr_resized *out);
void cxr_resized_free(cxr_resized *r); /* frees and empties; r may be zeroed */
/* Stops and joins the workers (after the current images), frees rz. */
void cxr_resize_queue_close(cxr_resize_queue *rz);

#endif
