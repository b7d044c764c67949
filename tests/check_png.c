/* png: every PNG type to the expected gray (expected/NAME.pgm, written by
 * tests/data/png/make_fixtures.py and checked there against Pillow), real
 * NIH gray and RGBA images, every kind of bad file as an error naming the
 * file, limits before allocation, the gray writer, and decoding on many
 * threads at once. */
#include <errno.h>
#include <png.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/png.h"
#include "testutil.h"

static const char *fixtures[] = {
	"gray1", "gray2", "gray4", "gray8", "gray16", "graya8", "graya16",
	"rgb8", "rgb16", "rgba8", "rgba16", "rgba8_gray", "pal1", "pal2",
	"pal4", "pal8", "pal4_trns", "gray8_trns", "rgb8_gamma", "gray8_i",
	"gray1_i", "gray16_i", "rgb8_i", "rgba16_i", "pal4_i", "tiny",
};
#define NFIX (int)(sizeof fixtures / sizeof *fixtures)

/* Reads a P5 PGM as written by make_fixtures.py ("P5\nW H\n255\n"). */
static int read_pgm(const char *path, cxr_gray *g)
{
	FILE *f = fopen(path, "rb");
	unsigned w, h, maxv;
	if (!f || fscanf(f, "P5 %u %u %u", &w, &h, &maxv) != 3 || fgetc(f) != '\n')
		return -1;
	g->w = w, g->h = h;
	g->px = cxr_xmalloc((size_t)w * h);
	size_t n = fread(g->px, 1, (size_t)w * h, f);
	fclose(f);
	return n == (size_t)w * h ? 0 : -1;
}

/* tests/data/png/<what>: test_data() shares one buffer, and the threads
 * test needs a path of its own. */
static void png_path(char *buf, size_t n, const char *what)
{
	const char *top = getenv("CXR_TOP");
	snprintf(buf, n, "%s/tests/data/png/%s", top ? top : ".", what);
}

/* 0 if the decode of png/NAME.png equals expected/NAME.pgm. */
static int decode_matches(const char *name)
{
	char p[256], e[256], ppath[4096], epath[4096];
	snprintf(p, sizeof p, "%s.png", name);
	snprintf(e, sizeof e, "expected/%s.pgm", name);
	png_path(ppath, sizeof ppath, p);
	png_path(epath, sizeof epath, e);
	cxr_gray got, want;
	if (cxr_png_read_gray(ppath, &got) < 0)
		return -1;
	int r = read_pgm(epath, &want);
	if (r == 0 && (got.w != want.w || got.h != want.h ||
	    memcmp(got.px, want.px, (size_t)got.w * got.h)))
		r = 1;
	cxr_gray_free(&got);
	cxr_gray_free(&want);
	return r;
}

START_TEST(every_type)
{
	const char *name = fixtures[_i];
	char p[256];
	snprintf(p, sizeof p, "png/%s.png", name);
	cxr_gray g;
	int r = cxr_png_read_gray(test_data(p), &g);
	ck_assert_msg(r == 0, "%s: %s", name, cxr_errmsg());
	cxr_gray_free(&g);
	ck_assert_msg(decode_matches(name) == 0, "%s: pixels differ from expected", name);
}
END_TEST

/* NIH images: 1024x1024, 8-bit gray and RGBA with R=G=B; each decodes to
 * its gray (or R) channel exactly, pixel for pixel, as libpng's own
 * simplified reader gives it (for RGBA: the luma weights sum to 65536, so
 * R=G=B comes back unchanged). */
START_TEST(nih_images)
{
	static const char *names[] = { "00000100_000.png", "00001369_000.png",
		"00004030_000.png", "00004094_000.png", "00008752_000.png", "00009945_000.png" };
	int rgba_seen = 0;
	for (int i = 0; i < 6; i++) {
		char p[256];
		snprintf(p, sizeof p, "nih/images/%s", names[i]);
		cxr_gray g;
		ck_assert_msg(cxr_png_read_gray(test_data(p), &g) == 0, "%s", cxr_errmsg());
		ck_assert_uint_eq(g.w, 1024);
		ck_assert_uint_eq(g.h, 1024);
		png_image im = {.version = PNG_IMAGE_VERSION};
		ck_assert_msg(png_image_begin_read_from_file(&im, test_data(p)), "%s", im.message);
		rgba_seen += (im.format & PNG_FORMAT_FLAG_COLOR) != 0;
		im.format = PNG_FORMAT_RGBA;
		unsigned char *rgba = malloc(PNG_IMAGE_SIZE(im));
		ck_assert_msg(rgba && png_image_finish_read(&im, NULL, rgba, 0, NULL), "%s", im.message);
		size_t differ = 0, grey = 0;
		for (size_t k = 0; k < (size_t)g.w * g.h; k++) {
			const unsigned char *q = rgba + 4 * k;
			differ += g.px[k] != q[0];
			grey += q[0] == q[1] && q[1] == q[2];
		}
		ck_assert_msg(grey == (size_t)g.w * g.h, "%s: not R=G=B", names[i]);
		ck_assert_msg(differ == 0, "%s: %zu pixels differ from the R channel", names[i], differ);
		free(rgba);
		cxr_gray_free(&g);
	}
	ck_assert_msg(rgba_seen > 0, "no RGBA image among the samples");
}
END_TEST

/* The error text for bad/NAME must contain want, after "path: ". */
static void assert_error(const char *name, const char *want)
{
	char p[256], path[4096];
	snprintf(p, sizeof p, "png/bad/%s", name);
	snprintf(path, sizeof path, "%s", test_data(p));
	cxr_gray g = { 7, 7, (uint8_t *)&g };
	ck_assert_int_eq(cxr_png_read_gray(path, &g), -1);
	ck_assert_ptr_null(g.px);
	ck_assert_uint_eq(g.w, 0);
	const char *msg = cxr_errmsg();
	ck_assert_msg(!strncmp(msg, path, strlen(path)) && msg[strlen(path)] == ':',
		"%s: message does not start with the path: %s", name, msg);
	ck_assert_msg(strstr(msg, want) != NULL, "%s: '%s' lacks '%s'", name, msg, want);
}

START_TEST(bad_files)
{
	assert_error("notpng.png", ": not a PNG file");
	assert_error("empty.png", ": not a PNG file");
	assert_error("truncated.png", ": truncated PNG file");
	assert_error("noiend.png", ": truncated PNG file");
	assert_error("crc.png", ": corrupt PNG: IDAT: CRC error");
	assert_error("badzlib.png", ": corrupt PNG: ");
	assert_error("wide.png", ": PNG too large (over 32768 pixels wide or high)");
	assert_error("huge.png", ": PNG too large: 32768x8193 (limit 268435456 pixels)");
	assert_error("missing.png", ": No such file or directory");
}
END_TEST

/* A PNG cut at every length up to its IEND fails, and never crashes. */
START_TEST(cut_everywhere)
{
	FILE *f = fopen(test_data("png/rgb8_i.png"), "rb");
	ck_assert_ptr_nonnull(f);
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	for (size_t k = 0; k < n; k++) {
		FILE *m = fmemopen(buf, k ? k : 1, "rb");
		if (!k)
			fgetc(m); /* an empty stream */
		cxr_gray g;
		ck_assert_msg(cxr_png_decode_gray(m, "cut", &g) == -1, "cut at %zu decoded", k);
		ck_assert_ptr_null(g.px);
		fclose(m);
	}
	FILE *m = fmemopen(buf, n, "rb");
	cxr_gray g;
	ck_assert_int_eq(cxr_png_decode_gray(m, "whole", &g), 0);
	cxr_gray_free(&g);
	fclose(m);
}
END_TEST

/* Decoding stops at IEND: PNGs back to back in one stream read in turn. */
START_TEST(back_to_back)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&mem, &len);
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(test_data(i == 1 ? "png/pal4_i.png" : "png/gray8.png"), "rb");
		int c;
		while ((c = fgetc(f)) != EOF)
			fputc(c, m);
		fclose(f);
	}
	fclose(m);
	m = fmemopen(mem, len, "rb");
	for (int i = 0; i < 3; i++) {
		cxr_gray g;
		ck_assert_msg(cxr_png_decode_gray(m, "cat", &g) == 0, "%d: %s", i, cxr_errmsg());
		ck_assert_uint_eq(g.w, 37);
		cxr_gray_free(&g);
	}
	cxr_gray g;
	ck_assert_int_eq(cxr_png_decode_gray(m, "cat", &g), -1);
	ck_assert_str_eq(cxr_errmsg(), "cat: not a PNG file");
	fclose(m);
	free(mem);
}
END_TEST

START_TEST(write_roundtrip)
{
	static const uint32_t sizes[][2] = { {1, 1}, {37, 23}, {256, 256}, {1000, 3} };
	const char *dir = test_tmpdir();
	char path[256];
	snprintf(path, sizeof path, "%s/w.png", dir);
	for (int s = 0; s < 4; s++)
		for (int level = -1; level <= 9; level += 5) {
			uint32_t w = sizes[s][0], h = sizes[s][1];
			uint8_t *px = cxr_xmalloc((size_t)w * h);
			for (size_t k = 0; k < (size_t)w * h; k++)
				px[k] = (uint8_t)(k * 31 + k / w * 7 + (k * k >> 5));
			FILE *f = fopen(path, "wb");
			ck_assert_int_eq(cxr_png_write_gray(f, path, px, w, h, level), 0);
			ck_assert_int_eq(fclose(f), 0);
			cxr_gray g;
			ck_assert_msg(cxr_png_read_gray(path, &g) == 0, "%s", cxr_errmsg());
			ck_assert_uint_eq(g.w, w);
			ck_assert_uint_eq(g.h, h);
			ck_assert_int_eq(memcmp(g.px, px, (size_t)w * h), 0);
			cxr_gray_free(&g);
			free(px);
		}
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(write_errors)
{
	uint8_t px[4] = {0};
	FILE *f = fopen("/dev/full", "wb");
	ck_assert_ptr_nonnull(f);
	setvbuf(f, NULL, _IONBF, 0);
	ck_assert_int_eq(cxr_png_write_gray(f, "/dev/full", px, 2, 2, -1), -1);
	ck_assert_msg(strstr(cxr_errmsg(), "/dev/full: write error") != NULL, "%s", cxr_errmsg());
	fclose(f);
	f = fopen("/dev/null", "wb");
	ck_assert_int_eq(cxr_png_write_gray(f, "null", px, 0, 2, -1), -1);
	ck_assert_int_eq(cxr_png_write_gray(f, "null", px, 40000, 1, -1), -1);
	ck_assert_str_eq(cxr_errmsg(), "null: cannot write a 40000x1 PNG");
	fclose(f);
}
END_TEST

/* No static state: many threads decoding good and bad files at once all
 * get their own right answers and messages. */
static void *decode_all(void *arg)
{
	long bad = 0;
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < NFIX; i++) {
			bad += decode_matches(fixtures[(i + (long)arg) % NFIX]) != 0;
			char path[4096];
			png_path(path, sizeof path, "bad/crc.png");
			cxr_gray g;
			if (cxr_png_read_gray(path, &g) != -1 || !strstr(cxr_errmsg(), "crc.png: corrupt PNG"))
				bad++;
		}
	return (void *)bad;
}

START_TEST(threads)
{
	pthread_t th[6];
	for (long i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, decode_all, (void *)i);
	long bad = 0;
	for (int i = 0; i < 6; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("png");
	TCase *tc = tcase_create("decode");
	tcase_add_loop_test(tc, every_type, 0, NFIX);
	tcase_add_test(tc, nih_images);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, cut_everywhere);
	tcase_add_test(tc, back_to_back);
	suite_add_tcase(s, tc);
	tc = tcase_create("write");
	tcase_add_test(tc, write_roundtrip);
	tcase_add_test(tc, write_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_add_test(tc, threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
