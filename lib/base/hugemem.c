/* hugemem — large blocks in transparent huge pages (see hugemem.h). */
#include "base/hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)

void cxr_advise_huge(void *p, size_t bytes)
{
	if (!p || bytes < CXR_HUGE_MIN)
		return;
	/* only whole huge pages inside the block: advice on a page the block
	 * shares with another allocation would change that one's as well */
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t b = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
}

void *cxr_malloc_huge(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);
	cxr_advise_huge(p, bytes);
	return p;
}

void *cxr_calloc_huge(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p && n && size)
		cxr_advise_huge(p, n * size);
	return p;
}

void *cxr_aligned_huge(size_t align, size_t bytes)
{
	bytes = (bytes + align - 1) / align * align;
	void *p = aligned_alloc(align, bytes ? bytes : align);
	cxr_advise_huge(p, bytes);
	return p;
}
