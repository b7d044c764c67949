/* decode_ceiling — the speed limit of PNG decoding here: a plain libpng
 * loop on one thread (open, read the header, png_read_image into a buffer
 * of the PNG's own sample format, close), no gray conversion, no resize,
 * no output. cxr-resize per core can at best match it.
 *
 * usage: decode_ceiling [-r REPEATS] PNG...
 * prints: images, seconds, images/s */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpng16/png.h>

#include "base/cli.h"

static int decode(const char *path, png_bytep *buf, size_t *cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	png_bytep *rows = NULL;
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		free(rows);
		fclose(f);
		return -1;
	}
	png_init_io(png, f);
	png_read_info(png, info);
	int passes = png_set_interlace_handling(png);
	(void)passes;
	png_read_update_info(png, info);
	png_uint_32 h = png_get_image_height(png, info);
	size_t rb = png_get_rowbytes(png, info);
	if (rb * h > *cap) {
		*cap = rb * h;
		*buf = realloc(*buf, *cap);
	}
	rows = malloc(h * sizeof *rows);
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = *buf + rb * y;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	int reps = 1, first = 1;
	if (argc > 2 && !strcmp(argv[1], "-r")) {
		reps = atoi(argv[2]);
		first = 3;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: decode_ceiling [-r REPEATS] PNG...\n");
		return 2;
	}
	png_bytep buf = NULL;
	size_t cap = 0;
	long n = 0;
	double t0 = cxr_now();
	for (int r = 0; r < reps; r++)
		for (int i = first; i < argc; i++, n++)
			if (decode(argv[i], &buf, &cap) < 0) {
				fprintf(stderr, "decode_ceiling: %s: cannot decode\n", argv[i]);
				return 1;
			}
	double dt = cxr_now() - t0;
	printf("%ld %.3f %.1f\n", n, dt, n / dt);
	free(buf);
	return 0;
}
