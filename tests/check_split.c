/* split: exact counts, no patient in two sets, the partial last patient,
 * determinism and independence from the input order, on synthetic pools. */
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/rng.h"
#include "data/split.h"
#include "testutil.h"

/* A synthetic pool: patient p has size[p] images "pPPPP_iii.png". */
typedef struct pool {
	size_t n;
	char **patient, **image;
	int *set;
} pool;

static pool make_pool(int npat, const int *size)
{
	pool p = {0};
	for (int i = 0; i < npat; i++)
		p.n += size[i];
	p.patient = cxr_xmalloc(p.n * sizeof *p.patient);
	p.image = cxr_xmalloc(p.n * sizeof *p.image);
	p.set = cxr_xmalloc(p.n * sizeof *p.set);
	size_t k = 0;
	for (int i = 0; i < npat; i++)
		for (int j = 0; j < size[i]; j++, k++) {
			char buf[64];
			snprintf(buf, sizeof buf, "%d", i);
			p.patient[k] = cxr_xstrdup(buf);
			snprintf(buf, sizeof buf, "p%04d_%03d.png", i, j);
			p.image[k] = cxr_xstrdup(buf);
			p.set[k] = 0;
		}
	return p;
}

static void free_pool(pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->patient[i]);
		free(p->image[i]);
	}
	free(p->patient);
	free(p->image);
	free(p->set);
}

static const int SETS[] = {CXR_SET_TEST, CXR_SET_VAL, CXR_SET_TRAIN};

static int draw(pool *p, int nsets, const long *want, uint64_t seed)
{
	for (size_t i = 0; i < p->n; i++)
		p->set[i] = 0;
	return cxr_split_draw(p->n, (const char *const *)p->patient,
			      (const char *const *)p->image, p->set, 0, nsets, SETS, want, seed);
}

/* Checks the rule on a finished draw: exact counts, each patient in one
 * set at most, at most one patient per set that gave only some images,
 * and a partial patient's images taken in name order. */
static void check_rule(const pool *p, int nsets, const long *want)
{
	long count[CXR_NSETS] = {0};
	int partial[CXR_NSETS] = {0};
	for (size_t i = 0; i < p->n; i++)
		if (p->set[i] >= 0)
			count[p->set[i]]++;
	for (int k = 0; k < nsets; k++)
		ck_assert_int_eq(count[SETS[k]], want[k]);
	/* images of a patient are contiguous in a synthetic pool */
	for (size_t a = 0, b; a < p->n; a = b) {
		int in = CXR_SET_NONE, some_none = 0, gap = 0;
		for (b = a; b < p->n && !strcmp(p->patient[a], p->patient[b]); b++) {
			int s = p->set[b];
			if (s >= 0) {
				ck_assert_msg(in < 0 || in == s, "patient %s in two sets",
					      p->patient[a]);
				in = s;
				ck_assert_msg(!gap, "patient %s: images not taken in name order",
					      p->patient[a]);
			} else {
				some_none = 1;
				gap = 1;
			}
		}
		if (in >= 0 && some_none)
			partial[in]++;
	}
	for (int s = 0; s < CXR_NSETS; s++)
		ck_assert_int_le(partial[s], 1);
}

START_TEST(test_rng)
{
	cxr_rng a, b;
	cxr_rng_seed(&a, 1);
	cxr_rng_seed(&b, 1);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(cxr_rng_u64(&a), cxr_rng_u64(&b));
	cxr_rng_seed(&b, 2);
	ck_assert_uint_ne(cxr_rng_u64(&a), cxr_rng_u64(&b));
	/* bounded draws stay in range and hit every value */
	int hits[7] = {0};
	for (int i = 0; i < 7000; i++) {
		uint64_t v = cxr_rng_below(&a, 7);
		ck_assert_uint_lt(v, 7);
		hits[v]++;
	}
	for (int i = 0; i < 7; i++)
		ck_assert_int_gt(hits[i], 800);
	ck_assert_uint_eq(cxr_rng_below(&a, 1), 0);
	/* near 2^64 the rejection matters; the result is still in range */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_lt(cxr_rng_below(&a, UINT64_MAX / 3 * 2), UINT64_MAX / 3 * 2);
}
END_TEST

START_TEST(test_exact_counts)
{
	/* many pools of patients with 1..12 images, many count triples */
	srand(7);
	for (int trial = 0; trial < 200; trial++) {
		int npat = 1 + rand() % 60, size[60];
		long total = 0;
		for (int i = 0; i < npat; i++)
			total += size[i] = 1 + rand() % 12;
		pool p = make_pool(npat, size);
		/* each set leaves at most 11 images of its partial patient
		 * unused, so a draw may fail only when the counts come that
		 * close to the pool's size, and then with a clear message */
		long want[3];
		for (int k = 0; k < 3; k++)
			want[k] = rand() % (total / 3 + 1);
		int rc = draw(&p, 3, want, trial);
		if (rc == 0)
			check_rule(&p, 3, want);
		else
			ck_assert_msg(strstr(cxr_errmsg(), "short"), "%s", cxr_errmsg());
		if (want[0] + want[1] + want[2] + 3 * 11 <= total)
			ck_assert_int_eq(rc, 0); /* drops are under 12 per set */
		free_pool(&p);
	}
}
END_TEST

START_TEST(test_partial_last_patient)
{
	int size[] = {5, 5};
	pool p = make_pool(2, size);
	long w1[] = {3};
	ck_assert_int_eq(draw(&p, 1, w1, 1), 0);
	check_rule(&p, 1, w1);
	/* the first three images of one patient, the rest nowhere */
	int first = p.set[0] == CXR_SET_TEST ? 0 : 5, other = 5 - first;
	for (int j = 0; j < 5; j++) {
		ck_assert_int_eq(p.set[first + j], j < 3 ? CXR_SET_TEST : CXR_SET_NONE);
		ck_assert_int_eq(p.set[other + j], CXR_SET_NONE);
	}
	/* the next set starts with the next patient, not the leftovers */
	long w2[] = {3, 5};
	ck_assert_int_eq(draw(&p, 2, w2, 1), 0);
	for (int j = 0; j < 5; j++) {
		ck_assert_int_eq(p.set[first + j], j < 3 ? CXR_SET_TEST : CXR_SET_NONE);
		ck_assert_int_eq(p.set[other + j], CXR_SET_VAL);
	}
	/* so 3 + 3 fits but 3 + 6 does not, though the pool has 10 */
	long w3[] = {3, 6};
	ck_assert_int_eq(draw(&p, 2, w3, 1), -1);
	ck_assert_msg(strstr(cxr_errmsg(), "there are 10 (of 2 patients)"), "%s", cxr_errmsg());
	ck_assert_msg(strstr(cxr_errmsg(), "val set 1 short"), "%s", cxr_errmsg());
	ck_assert_msg(strstr(cxr_errmsg(), "2 images of partly drawn"), "%s", cxr_errmsg());
	free_pool(&p);
}
END_TEST

START_TEST(test_zero_and_all)
{
	int size[] = {3, 1, 4, 1, 5, 9, 2, 6};
	pool p = make_pool(8, size);
	long z[] = {0, 0, 0};
	ck_assert_int_eq(draw(&p, 3, z, 5), 0);
	for (size_t i = 0; i < p.n; i++)
		ck_assert_int_eq(p.set[i], CXR_SET_NONE);
	long all[] = {0, 0, 31};
	ck_assert_int_eq(draw(&p, 3, all, 5), 0);
	for (size_t i = 0; i < p.n; i++)
		ck_assert_int_eq(p.set[i], CXR_SET_TRAIN);
	long rest[] = {4, -1};
	ck_assert_int_eq(draw(&p, 2, rest, 5), 0);
	long n0 = 0, n1 = 0;
	for (size_t i = 0; i < p.n; i++) {
		n0 += p.set[i] == CXR_SET_TEST;
		n1 += p.set[i] == CXR_SET_VAL;
	}
	ck_assert_int_eq(n0, 4);
	ck_assert_int_ge(n1, 31 - 4 - 8); /* all but the partial patient's rest */
	long bad[] = {-1, 4};
	ck_assert_int_eq(draw(&p, 2, bad, 5), -1);
	long big[] = {10, 10, 12};
	ck_assert_int_eq(draw(&p, 3, big, 5), -1);
	ck_assert_str_eq(cxr_errmsg(), "asked for 32 images in all; there are 31 (of 8 patients)");
	/* an empty pool */
	ck_assert_int_eq(cxr_split_draw(0, NULL, NULL, NULL, 0, 3, SETS, z, 1), 0);
	free_pool(&p);
}
END_TEST

/* Assignment of each image name, to compare draws over reordered input. */
static int find_set(const pool *p, const char *image)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->image[i], image))
			return p->set[i];
	return -99;
}

START_TEST(test_deterministic)
{
	int size[200];
	for (int i = 0; i < 200; i++)
		size[i] = 1 + (i * 7919) % 9;
	pool a = make_pool(200, size), b = make_pool(200, size);
	long want[] = {100, 50, 300};
	ck_assert_int_eq(draw(&a, 3, want, 43), 0);
	check_rule(&a, 3, want);
	ck_assert_int_eq(draw(&a, 3, want, 42), 0);
	check_rule(&a, 3, want);
	/* reversed input order: the same draw */
	for (size_t i = 0; i < b.n / 2; i++) {
		size_t j = b.n - 1 - i;
		char *t = b.patient[i]; b.patient[i] = b.patient[j]; b.patient[j] = t;
		t = b.image[i]; b.image[i] = b.image[j]; b.image[j] = t;
	}
	ck_assert_int_eq(draw(&b, 3, want, 42), 0);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_int_eq(find_set(&b, a.image[i]), a.set[i]);
	/* another seed: another draw, as exact */
	ck_assert_int_eq(draw(&b, 3, want, 43), 0);
	size_t differ = 0;
	for (size_t i = 0; i < a.n; i++)
		differ += find_set(&b, a.image[i]) != a.set[i];
	ck_assert_uint_gt(differ, a.n / 4);
	/* a set does not depend on the counts of the sets after it */
	long want2[] = {100, 50, 10};
	ck_assert_int_eq(draw(&b, 3, want2, 42), 0);
	for (size_t i = 0; i < a.n; i++) {
		int s = find_set(&b, a.image[i]);
		if (a.set[i] == CXR_SET_TEST || a.set[i] == CXR_SET_VAL)
			ck_assert_int_eq(s, a.set[i]);
	}
	free_pool(&a);
	free_pool(&b);
}
END_TEST

START_TEST(test_pools)
{
	/* only items marked with the pool value take part; others untouched */
	int size[] = {4, 4, 4, 4};
	pool p = make_pool(4, size);
	for (size_t i = 0; i < p.n; i++)
		p.set[i] = i < 8 ? 100 : 7;
	long want[] = {6};
	int sets[] = {CXR_SET_TRAIN};
	ck_assert_int_eq(cxr_split_draw(p.n, (const char *const *)p.patient,
					(const char *const *)p.image, p.set, 100, 1, sets,
					want, 3), 0);
	int train = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (i >= 8)
			ck_assert_int_eq(p.set[i], 7);
		else
			ck_assert(p.set[i] == CXR_SET_TRAIN || p.set[i] == CXR_SET_NONE);
		train += p.set[i] == CXR_SET_TRAIN;
	}
	ck_assert_int_eq(train, 6);
	free_pool(&p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("split");
	TCase *tc = tcase_create("split");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rng);
	tcase_add_test(tc, test_exact_counts);
	tcase_add_test(tc, test_partial_last_patient);
	tcase_add_test(tc, test_zero_and_all);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_pools);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return test_run_suite(suite()); }
