/* strset — see strset.h. */
#include "base/strset.h"

#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

/* FNV-1a, finished with MurmurHash3's fmix64: FNV's low bits mix poorly
 * and the table is indexed by them. */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdu;
	h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 33);
}

/* The slot holding s, or the empty slot where it would go. */
static cxr_strset_slot *find(const cxr_strset *set, const char *s, uint64_t h)
{
	size_t i = h & (set->cap - 1);
	for (;; i = (i + 1) & (set->cap - 1)) {
		cxr_strset_slot *e = &set->slot[i];
		if (e->id == SIZE_MAX || (e->h == h && !strcmp(set->str[e->id], s)))
			return e;
	}
}

static void grow(cxr_strset *set)
{
	cxr_strset_slot *old = set->slot;
	size_t oc = set->cap;
	set->cap = oc ? 2 * oc : 1024;
	set->slot = cxr_xmalloc(set->cap * sizeof *set->slot);
	for (size_t i = 0; i < set->cap; i++)
		set->slot[i].id = SIZE_MAX;
	for (size_t i = 0; i < oc; i++)
		if (old[i].id != SIZE_MAX)
			*find(set, set->str[old[i].id], old[i].h) = old[i];
	free(old);
	set->str = cxr_xrealloc(set->str, set->cap / 2 * sizeof *set->str);
}

size_t cxr_strset_add(cxr_strset *set, const char *s, int *added)
{
	if (2 * (set->n + 1) > set->cap) /* keep the load under a half */
		grow(set);
	uint64_t h = hash(s);
	cxr_strset_slot *e = find(set, s, h);
	if (added)
		*added = e->id == SIZE_MAX;
	if (e->id == SIZE_MAX) {
		set->str[set->n] = cxr_xstrdup(s);
		*e = (cxr_strset_slot){h, set->n++};
	}
	return e->id;
}

void cxr_strset_free(cxr_strset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->str[i]);
	free(set->str);
	free(set->slot);
	memset(set, 0, sizeof *set);
}
