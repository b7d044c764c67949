/* hugemem: the advice keeps a block's contents, covers exactly the whole
 * 2 MiB pages inside the block (the kernel's VmFlags "hg" on them), and
 * leaves small blocks alone. Where the kernel offers no transparent huge
 * pages only the first holds: the suite then exits 78, the runner's
 * "unsupported here", after the contents test passed. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hugemem.h"
#include "testutil.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

/* Whether the kernel gives huge pages on request. */
static int thp_offered(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128] = "";
	if (!f)
		return 0;
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	fclose(f);
	return strstr(line, "[always]") || strstr(line, "[madvise]");
}

/* 1 if the mapping holding address a is flagged for huge pages ("hg" in
 * its VmFlags), 0 if not, -1 if /proc/self/smaps does not say. */
static int advised(uintptr_t a)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, r = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			r = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return r;
}

START_TEST(contents_kept)
{
	size_t n = (size_t)24 << 20;
	unsigned char *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + 7);
	cxr_advise_huge(p, n);
	for (size_t i = 0; i < n; i += 4093)
		ck_assert_uint_eq(p[i], (unsigned char)(i * 131 + 7));
	free(p);

	float *z = cxr_calloc_huge((size_t)3 << 20, sizeof *z);
	ck_assert_ptr_nonnull(z);
	for (size_t i = 0; i < (size_t)3 << 20; i += 1021)
		ck_assert(z[i] == 0.0f);
	free(z);

	double *q = cxr_aligned_huge(64, 1000003 * sizeof *q);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq((uintptr_t)q % 64, 0);
	q[1000002] = 1; /* the last element is inside the block */
	free(q);
}
END_TEST

START_TEST(whole_pages_inside)
{
	size_t n = (size_t)32 << 20;
	unsigned char *p = cxr_malloc_huge(n);
	ck_assert_ptr_nonnull(p);
	uintptr_t first = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t end = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
	int r = advised(first);
	ck_assert_msg(r != -1, "/proc/self/smaps does not say");
	ck_assert_msg(r == 1, "the first whole huge page of the block is not advised");
	ck_assert_msg(advised(end - 1) == 1, "the last whole huge page is not advised");
	/* the partial pages at the ends may be shared with other blocks */
	if (first > (uintptr_t)p)
		ck_assert_msg(advised(first - 1) == 0, "advice before the block's first whole page");
	free(p);

	/* below CXR_HUGE_MIN: no advice */
	size_t small = CXR_HUGE_MIN - 1;
	unsigned char *s = aligned_alloc(HUGE_PAGE, (small + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	ck_assert_ptr_nonnull(s);
	cxr_advise_huge(s, small);
	ck_assert_msg(advised((uintptr_t)s) == 0, "a small block was advised");
	free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hugemem");
	TCase *tc = tcase_create("hugemem");
	tcase_add_test(tc, contents_kept);
	if (thp_offered())
		tcase_add_test(tc, whole_pages_inside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc = test_run_suite(suite());
	if (rc == EXIT_SUCCESS && !thp_offered()) {
		printf("unsupported: this kernel offers no transparent huge pages; "
		       "the advice was not checked\n");
		return 78;
	}
	return rc;
}
