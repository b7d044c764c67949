/* loader — batches for training and validation, read from a pack by its
 * index in a seeded order, converted to the network's input (pixel/255 as
 * float32, N,1,H,W), optionally augmented, prepared by a background thread
 * while the caller computes on the previous batch.
 *
 * Deterministic: the order of epoch e is a shuffle seeded by (seed, e) and
 * the augmentation of a sample by (seed, e, position), so a run resumed at
 * any step sees exactly the batches an uninterrupted run would.
 *
 * Data parallelism: with ranks R > 1, rank r reads only its slice of each
 * batch, the samples [r*n/R, (r+1)*n/R) of the batch's n in the seeded
 * order (integer division: slices differ by one at most; a short last
 * batch may leave a rank none). Order and augmentation are the whole
 * batch's, so the R slices together are the batch a single process
 * reads. */
#ifndef CXR_LOADER_H
#define CXR_LOADER_H
#include <stdint.h>

#include "data/stream.h"

typedef struct cxr_loader_cfg {
	int batch;
	uint64_t seed;
	int shuffle;    /* a new order every epoch */
	int augment;    /* small random shifts, scales, brightness */
	int need_label; /* refuse records with an unknown label */
} cxr_loader_cfg;

typedef struct cxr_batch {
	int n;          /* samples in this batch (the last may be short); under
			 * ranks, in this rank's slice */
	int total;      /* samples in the whole batch, all ranks' slices */
	int first;      /* where this slice begins in the whole batch */
	float *x;       /* (n, 1, H, W) */
	float *y;       /* (n) labels 0/1 (NaN unknown) */
	long *index;    /* (n) record numbers in the pack, 0-based */
} cxr_batch;

typedef struct cxr_loader cxr_loader;

/* Checks the first record for the shape (u8, 1xHxW); others are checked
 * as they are read. NULL with cxr_errmsg() set. */
cxr_loader *cxr_loader_open(cxr_pack *p, const char *path, const cxr_loader_cfg *cfg);
/* Reads rank's slice of each batch from now on (see the top; ranks 1,
 * the default: the whole batch). Call before cxr_loader_start. */
void cxr_loader_set_slice(cxr_loader *l, int rank, int ranks);
int cxr_loader_height(const cxr_loader *l);
int cxr_loader_width(const cxr_loader *l);
long cxr_loader_count(const cxr_loader *l);
long cxr_loader_batches(const cxr_loader *l); /* per epoch */
/* Starts epoch e (0-based) at batch number start (to resume). */
void cxr_loader_start(cxr_loader *l, int epoch, long start);
/* The next batch of the epoch: 1, 0 at its end, -1 on a read error. The
 * batch stays valid until the next call. */
int cxr_loader_next(cxr_loader *l, const cxr_batch **b);
void cxr_loader_close(cxr_loader *l);

/* Converts one u8 image to floats, with an optional augmentation drawn
 * from seed (exposed for tests). */
void cxr_image_to_input(const uint8_t *px, int h, int w, float *out, int augment,
			uint64_t seed);

#endif
