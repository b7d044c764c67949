/* split — patient-wise, seeded, exact-count drawing of data sets.
 *
 * The rule (man/cxr-split.1): the pool's patients are put in a seeded random
 * order and drawn one by one into the first set until it holds exactly the
 * count asked for, then into the next set, and so on. The last patient
 * drawn for a set may give only some of its images (the first ones in
 * image name order); the rest of that patient's images go nowhere, so no
 * patient is in two sets. A set asked for 0 images draws no patient.
 *
 * The result depends only on the seed, the counts and the set of
 * (patient, image) pairs in the pool, not on the order of the items: the
 * patients are sorted by id before they are shuffled. Because sets are
 * filled in turn, a set's content does not depend on the counts of the
 * sets after it. */
#ifndef CXR_SPLIT_H
#define CXR_SPLIT_H
#include <stddef.h>
#include <stdint.h>

/* cxr-split fills its sets in this order. */
enum { CXR_SET_NONE = -1, CXR_SET_TEST, CXR_SET_VAL, CXR_SET_TRAIN, CXR_NSETS };
extern const char *const cxr_set_name[CXR_NSETS]; /* "test", "val", "train" */

/* Draws sets from a pool of n items. Item i is image image[i] of patient
 * patient[i] (equal strings: the same patient). The pool is the items with
 * set[i] == pool; the others are left alone. On return every pool item has
 * set[i] = sets[k] if drawn into the k-th set, CXR_SET_NONE otherwise.
 * want[k] is the k-th set's count; a negative count in the last set takes
 * every image left. Returns 0, or -1 with cxr_errmsg() telling how many
 * images the pool has when it cannot fill the sets (the pool's set[]
 * values are then unspecified). */
int cxr_split_draw(size_t n, const char *const *patient, const char *const *image,
		   int *set, int pool, int nsets, const int *sets, const long *want,
		   uint64_t seed);

/* The draw uses rng.h (xoshiro256** seeded through splitmix64), so a
 * seed gives the same split on every machine. */

#endif
