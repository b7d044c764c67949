/* split — see split.h. */
#include "data/split.h"

#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/rng.h"

const char *const cxr_set_name[CXR_NSETS] = {"test", "val", "train"};

/* ---- the draw ---- */

typedef struct item {
	const char *patient, *image;
	size_t i;
} item;

static int item_cmp(const void *a, const void *b)
{
	const item *x = a, *y = b;
	int c = strcmp(x->patient, y->patient);
	if (!c)
		c = strcmp(x->image, y->image);
	if (!c)
		c = (x->i > y->i) - (x->i < y->i);
	return c;
}

static const char *set_label(int s)
{
	return s >= 0 && s < CXR_NSETS ? cxr_set_name[s] : "next";
}

int cxr_split_draw(size_t n, const char *const *patient, const char *const *image,
		   int *set, int pool, int nsets, const int *sets, const long *want,
		   uint64_t seed)
{
	/* The pool, grouped by patient in a fixed order (sorted by id) so
	 * that the shuffle below is all that the seed changes. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += set[i] == pool;
	item *it = cxr_alloc_array(m ? m : 1, sizeof *it);
	if (!it)
		return -1;
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (set[i] == pool) {
			it[m++] = (item){patient[i], image[i], i};
			set[i] = CXR_SET_NONE;
		}
	qsort(it, m, sizeof *it, item_cmp);
	size_t np = 0;
	size_t *start = cxr_xmalloc((m + 1) * sizeof *start);
	for (size_t i = 0; i < m; i++)
		if (!i || strcmp(it[i].patient, it[i - 1].patient))
			start[np++] = i;
	start[np] = m;

	long total = 0;
	for (int k = 0; k < nsets; k++) {
		if (want[k] < 0 && k < nsets - 1) {
			cxr_seterr("only the last set may take every image left");
			goto fail;
		}
		total += want[k] < 0 ? 0 : want[k];
	}
	if ((size_t)total > m) {
		cxr_seterr("asked for %ld images in all; there are %zu (of %zu patients)",
			   total, m, np);
		goto fail;
	}

	size_t *order = cxr_xmalloc((np ? np : 1) * sizeof *order);
	for (size_t i = 0; i < np; i++)
		order[i] = i;
	cxr_rng rng;
	cxr_rng_seed(&rng, seed);
	for (size_t i = np; i > 1; i--) { /* Fisher-Yates */
		size_t j = cxr_rng_below(&rng, i);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}

	size_t next = 0;      /* next patient in the drawn order */
	size_t left = m;      /* images of patients not drawn yet */
	long dropped = 0;     /* images of partly drawn patients */
	for (int k = 0; k < nsets; k++) {
		long need = want[k] < 0 ? (long)left : want[k];
		long got = 0;
		while (got < need) {
			if (next == np) {
				cxr_seterr("asked for %ld images in all; there are %zu "
					   "(of %zu patients), but drawing whole patients "
					   "with seed %llu leaves the %s set %ld short "
					   "(%ld images of partly drawn patients go nowhere)",
					   total, m, np, (unsigned long long)seed,
					   set_label(sets[k]), need - got, dropped);
				free(order);
				goto fail;
			}
			size_t g = order[next++];
			long size = start[g + 1] - start[g];
			long take = size < need - got ? size : need - got;
			for (long j = 0; j < take; j++)
				set[it[start[g] + j].i] = sets[k];
			got += take;
			left -= size;
			dropped += size - take;
		}
	}
	free(order);
	free(start);
	free(it);
	return 0;
fail:
	free(start);
	free(it);
	return -1;
}
