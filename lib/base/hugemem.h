/* hugemem — large blocks of memory in transparent huge pages.
 *
 * A freshly allocated block costs one page fault per 4 KiB page on first
 * touch; a cold cxr-score spends a third of its time (model load and the
 * first batch: decoded tensors, folded and packed weights, the
 * activations) in those faults. Where the kernel offers transparent huge
 * pages on request (/sys/kernel/mm/transparent_hugepage/enabled "always"
 * or "madvise"), a 2 MiB page faults once instead of 512 times. Advice
 * only: without huge pages nothing changes but the speed. */
#ifndef CXR_HUGEMEM_H
#define CXR_HUGEMEM_H
#include <stddef.h>

/* Blocks of at least this many bytes get the advice. */
#define CXR_HUGE_MIN ((size_t)4 << 20)

/* Asks for huge pages for the whole 2 MiB-aligned pages inside
 * [p, p + bytes), if bytes >= CXR_HUGE_MIN; the memory's contents are
 * unchanged. */
void cxr_advise_huge(void *p, size_t bytes);
/* malloc and calloc, then the advice; NULL when memory is short. */
void *cxr_malloc_huge(size_t bytes);
void *cxr_calloc_huge(size_t n, size_t size);
/* aligned_alloc (align a power of two dividing 4096; bytes rounded up to
 * a multiple of it), then the advice; NULL when memory is short. */
void *cxr_aligned_huge(size_t align, size_t bytes);

#endif
