/* resize: the area average against a direct 2-D reference (every output
 * pixel summed over every input pixel it overlaps, exact in integers), on
 * random sizes up and down, square or not; block means, rounding half up,
 * and bad sizes. */
#include <stdint.h>
#include <stdlib.h>

#include "base/cli.h"
#include "data/area_resize.h"
#include "testutil.h"

/* Overlap of [a0, a1) and [b0, b1). */
static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
	return hi > lo ? hi - lo : 0;
}

/* Reference: along x, lengths in units of 1/ow input pixel (input pixel j
 * is [j*ow, (j+1)*ow), output i is [i*w, (i+1)*w)); likewise along y. The
 * mean is sum / (w*h), rounded half up. Slow and plain on purpose. */
static void reference(uint8_t *dst, int ow, int oh, const uint8_t *src, int w, int h)
{
	for (int i = 0; i < oh; i++)
		for (int k = 0; k < ow; k++) {
			int64_t sum = 0;
			for (int y = 0; y < h; y++) {
				int64_t wy = overlap((int64_t)i * h, (int64_t)(i + 1) * h,
					(int64_t)y * oh, (int64_t)(y + 1) * oh);
				if (!wy)
					continue;
				for (int x = 0; x < w; x++)
					sum += wy * overlap((int64_t)k * w, (int64_t)(k + 1) * w,
						(int64_t)x * ow, (int64_t)(x + 1) * ow) * src[y * w + x];
			}
			int64_t den = (int64_t)w * h;
			dst[i * ow + k] = (uint8_t)((sum + den / 2) / den);
		}
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void check_sizes(int w, int h, int ow, int oh)
{
	uint8_t *src = cxr_xmalloc((size_t)w * h);
	uint8_t *got = cxr_xmalloc((size_t)ow * oh), *want = cxr_xmalloc((size_t)ow * oh);
	for (int k = 0; k < w * h; k++)
		src[k] = (uint8_t)(k % 7 == 0 ? 255 * (next() & 1) : next());
	ck_assert_int_eq(cxr_resize_area(got, ow, oh, src, w, h), 0);
	reference(want, ow, oh, src, w, h);
	for (int k = 0; k < ow * oh; k++)
		ck_assert_msg(got[k] == want[k], "%dx%d -> %dx%d: pixel %d: %d, want %d",
			w, h, ow, oh, k, got[k], want[k]);
	free(src), free(got), free(want);
}

START_TEST(against_reference)
{
	static const int fixed[][4] = {
		{1024, 1024, 256, 256}, {37, 23, 16, 16}, {37, 23, 256, 256},
		{100, 100, 100, 100}, {1, 1, 7, 3}, {300, 200, 7, 11},
		{97, 89, 45, 46}, {5, 3, 2, 2}, {3, 1, 2, 1},
	};
	for (int i = 0; i < 9; i++)
		check_sizes(fixed[i][0], fixed[i][1], fixed[i][2], fixed[i][3]);
	for (int t = 0; t < 200; t++)
		check_sizes(1 + next() % 90, 1 + next() % 90, 1 + next() % 60, 1 + next() % 60);
}
END_TEST

/* 1024 -> 256 is the mean of each 4x4 block, ties rounded up. */
START_TEST(block_mean)
{
	enum { N = 1024, M = 256 };
	uint8_t *src = cxr_xmalloc(N * N), dst[M * M];
	for (int y = 0; y < N; y++)
		for (int x = 0; x < N; x++)
			src[y * N + x] = (uint8_t)(x * 3 + y * 5 + (x ^ y));
	ck_assert_int_eq(cxr_resize_area(dst, M, M, src, N, N), 0);
	for (int i = 0; i < M; i++)
		for (int k = 0; k < M; k++) {
			int sum = 0;
			for (int y = 0; y < 4; y++)
				for (int x = 0; x < 4; x++)
					sum += src[(4 * i + y) * N + 4 * k + x];
			ck_assert_int_eq(dst[i * M + k], (sum + 8) / 16);
		}
	free(src);
}
END_TEST

START_TEST(small_cases)
{
	uint8_t out[64];
	const uint8_t half[2] = {0, 1}; /* mean 0.5 rounds up */
	ck_assert_int_eq(cxr_resize_area(out, 1, 1, half, 2, 1), 0);
	ck_assert_int_eq(out[0], 1);
	const uint8_t ab[2] = {10, 20}; /* 2 -> 3: a, (a+b)/2, b */
	ck_assert_int_eq(cxr_resize_area(out, 3, 1, ab, 2, 1), 0);
	ck_assert_int_eq(out[0], 10);
	ck_assert_int_eq(out[1], 15);
	ck_assert_int_eq(out[2], 20);
	const uint8_t row3[3] = {0, 0, 255}; /* 3 -> 2: exact coverage, not Pillow's */
	ck_assert_int_eq(cxr_resize_area(out, 2, 1, row3, 3, 1), 0);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(out[1], 170);
	const uint8_t one = 77; /* 1x1 -> 8x8 */
	ck_assert_int_eq(cxr_resize_area(out, 8, 8, &one, 1, 1), 0);
	for (int k = 0; k < 64; k++)
		ck_assert_int_eq(out[k], 77);
	uint8_t *big = cxr_xmalloc(60000); /* 60000x1 -> 1x1, all 255 */
	memset(big, 255, 60000);
	ck_assert_int_eq(cxr_resize_area(out, 1, 1, big, 1, 60000), 0);
	ck_assert_int_eq(out[0], 255);
	free(big);
}
END_TEST

START_TEST(bad_sizes)
{
	uint8_t b[4] = {0};
	ck_assert_int_eq(cxr_resize_area(b, 0, 1, b, 1, 1), -1);
	ck_assert_int_eq(cxr_resize_area(b, 1, 1, b, 1, 0), -1);
	ck_assert_int_eq(cxr_resize_area(b, 1, 1, b, 70000, 1), -1);
	ck_assert_str_eq(cxr_errmsg(), "cannot resize 70000x1 to 1x1");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resize");
	TCase *tc = tcase_create("resize");
	tcase_add_test(tc, against_reference);
	tcase_add_test(tc, block_mean);
	tcase_add_test(tc, small_cases);
	tcase_add_test(tc, bad_sizes);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
