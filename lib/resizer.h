/* resizer — PNG files decoded and resized to size x size on worker threads,
 * handed back in the order they were queued.
 *
 * A ring of 2*nthreads+2 slots bounds what is in flight (memory: one
 * decoded image per worker plus one size x size result per slot). The
 * caller queues while cxr_resizer_full() is false and takes the oldest;
 * since each image is done whole by one thread, the pixels do not depend on
 * the thread count. */
#ifndef CXR_RESIZER_H
#define CXR_RESIZER_H
#include <stdint.h>

#include "meta.h"

typedef struct cxr_resized {
	char *file;    /* the PNG path, or NULL if it was not found */
	cxr_meta meta;
	uint8_t *px;   /* (size, size), NULL on failure */
	char *err;     /* on failure, "file: what"; NULL on success */
} cxr_resized;

typedef struct cxr_resizer cxr_resizer;

/* Starts nthreads (>= 1) workers. Dies if threads cannot be created. */
cxr_resizer *cxr_resizer_open(int nthreads, uint32_t size);
int cxr_resizer_full(const cxr_resizer *rz);
long cxr_resizer_pending(const cxr_resizer *rz); /* queued, not yet taken */
/* Queues one image, taking over file (malloc'd) and meta (left empty).
 * With err set, the image is not read and comes back failed with a copy of
 * err (an image not found, say). Must not be called when full. */
void cxr_resizer_put(cxr_resizer *rz, char *file, cxr_meta *meta, const char *err);
/* Waits for the oldest queued image and moves it into out (whatever out
 * held is freed first). Must not be called when nothing is pending. */
void cxr_resizer_take(cxr_resizer *rz, cxr_resized *out);
void cxr_resized_free(cxr_resized *r); /* frees and empties; r may be zeroed */
/* Stops and joins the workers (after the current images), frees rz. */
void cxr_resizer_close(cxr_resizer *rz);

#endif
