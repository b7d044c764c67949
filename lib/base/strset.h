/* strset — distinct strings, numbered 0, 1, ... in order of first
 * insertion and found by hash: the duplicate image names of cxr-split and
 * cxr-pack, the distinct values of a scores column. */
#ifndef CXR_STRSET_H
#define CXR_STRSET_H
#include <stddef.h>
#include <stdint.h>

typedef struct cxr_strset_slot {
	uint64_t h;  /* the string's hash: most probes skip the strcmp */
	size_t id;   /* SIZE_MAX: empty */
} cxr_strset_slot;

typedef struct cxr_strset {
	char **str;  /* (n) the strings, by id; owned */
	size_t n;
	cxr_strset_slot *slot; /* (cap) open addressing, load under a half */
	size_t cap;
} cxr_strset;

/* A zeroed cxr_strset is an empty set. */
/* The id of s, adding a copy first when it is new; *added (if not NULL)
 * says which. set->str may move. */
size_t cxr_strset_add(cxr_strset *set, const char *s, int *added);
void cxr_strset_free(cxr_strset *set);

#endif
