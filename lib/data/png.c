/* png — see png.h. Reading: libpng unpacks the PNG types to 8-bit samples
 * with 1 to 4 channels, and we reduce those to gray here (libpng's own
 * rgb_to_gray has other coefficients and rounding than Pillow's). Writing:
 * 8-bit gray only, for cxr-pack -x and the synthetic data generator. */
#include "data/png.h"

#include <errno.h>
/* libpng's header by its directory: -Ilib would find our own png.h first. */
#include <libpng16/png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

/* Ancillary chunks (text, ICC profiles) may not make us allocate more than
 * this; pixel rows are bounded by CXR_PNG_MAX_DIM/PIXELS instead. */
#define CHUNK_MALLOC_MAX (8u << 20)

/* stdio buffer for reading a PNG file (see cxr_png_read_gray) */
#define READ_BUF (256u << 10)

/* Everything a decode or encode call owns, reached from libpng's callbacks
 * through their user pointers, so that no state is static (thread safety),
 * and kept in memory rather than in locals so that it survives longjmp. */
struct pngctx {
	FILE *f;
	const char *name;
	char msg[200];     /* libpng's error message */
	char warning[200]; /* the last warning: libpng explains IHDR errors there */
	int truncated;     /* the file ended early */
	int ioerr;         /* errno of a read or write error, 0 if none */
	int own;           /* msg is ours and complete, not libpng's */
	uint8_t *px;       /* output (h, w) */
	uint8_t *tmp;      /* rows of the unpacked samples */
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct pngctx *c = png_get_error_ptr(png);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	struct pngctx *c = png_get_error_ptr(png);
	snprintf(c->warning, sizeof c->warning, "%s", msg);
}

static void read_fn(png_structp png, png_bytep buf, size_t n)
{
	struct pngctx *c = png_get_io_ptr(png);
	if (fread(buf, 1, n, c->f) != n) {
		if (ferror(c->f)) {
			c->ioerr = errno ? errno : EIO;
			png_error(png, "read error");
		}
		c->truncated = 1;
		png_error(png, "truncated");
	}
}

/* Leaves decode() with the message already in c->msg. */
static noreturn void own_error(png_structp png, struct pngctx *c)
{
	c->own = 1;
	png_longjmp(png, 1);
}

/* Sets cxr_errmsg() from what went wrong in a failed call. */
static void decode_error(const struct pngctx *c)
{
	if (c->own)
		cxr_seterr("%s: %s", c->name, c->msg);
	else if (c->ioerr)
		cxr_seterr("%s: read error: %s", c->name, strerror(c->ioerr));
	else if (c->truncated)
		cxr_seterr("%s: truncated PNG file", c->name);
	else if (strstr(c->warning, "exceeds user limit"))
		cxr_seterr("%s: PNG too large (over %u pixels wide or high)",
			c->name, CXR_PNG_MAX_DIM);
	else if (strstr(c->msg, "IHDR") && c->warning[0])
		cxr_seterr("%s: corrupt PNG: %s (%s)", c->name, c->msg, c->warning);
	else
		cxr_seterr("%s: corrupt PNG: %s", c->name, c->msg);
}

/* ITU-R 601 luma in 16-bit fixed point, as Pillow's convert("L"). The
 * weights sum to 65536, so R=G=B gives R back exactly. */
static inline uint8_t luma(const uint8_t *p)
{
	return (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
}

/* One row of n pixels of ch unpacked 8-bit channels (gray, gray+alpha,
 * RGB, RGBA) to gray. */
static void row_to_gray(uint8_t *dst /* (n) */, const uint8_t *src /* (n, ch) */,
	uint32_t n, int ch)
{
	switch (ch) {
	case 1:
		memcpy(dst, src, n);
		break;
	case 2:
		for (uint32_t x = 0; x < n; x++)
			dst[x] = src[2 * x];
		break;
	case 3:
		for (uint32_t x = 0; x < n; x++)
			dst[x] = luma(src + 3 * x);
		break;
	default:
		for (uint32_t x = 0; x < n; x++)
			dst[x] = luma(src + 4 * x);
		break;
	}
}

/* The decode proper; longjmps out on a libpng error. */
static void decode(png_structp png, png_infop info, struct pngctx *c, cxr_gray *img)
{
	png_uint_32 w, h;
	int depth, ctype, interlace;

	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
	if ((uint64_t)w * h > CXR_PNG_MAX_PIXELS) {
		snprintf(c->msg, sizeof c->msg, "PNG too large: %ux%u (limit %u pixels)",
			(unsigned)w, (unsigned)h, CXR_PNG_MAX_PIXELS);
		own_error(png, c);
	}

	/* Unpack to 8-bit samples; channels stay 1..4 and row_to_gray
	 * reduces them. tRNS is left alone (alpha is ignored anyway). */
	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (depth == 16)
		png_set_strip_16(png); /* v >> 8 */
	int passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);
	int ch = png_get_channels(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	if (png_get_bit_depth(png, info) != 8 || ch < 1 || ch > 4 || rowbytes != (size_t)w * ch) {
		snprintf(c->msg, sizeof c->msg, "unsupported PNG layout");
		own_error(png, c);
	}

	c->px = malloc((size_t)w * h);
	if (!c->px) {
		snprintf(c->msg, sizeof c->msg, "out of memory for %ux%u pixels",
			(unsigned)w, (unsigned)h);
		own_error(png, c);
	}
	if (ch == 1 || passes == 1) {
		/* Row by row: gray straight into the output, colour through
		 * one row of samples. */
		if (ch > 1 && !(c->tmp = malloc(rowbytes))) {
			snprintf(c->msg, sizeof c->msg, "out of memory");
			own_error(png, c);
		}
		for (int p = 0; p < passes; p++)
			for (png_uint_32 y = 0; y < h; y++) {
				uint8_t *out = c->px + (size_t)y * w;
				if (ch == 1) {
					png_read_row(png, out, NULL);
				} else {
					png_read_row(png, c->tmp, NULL);
					row_to_gray(out, c->tmp, w, ch);
				}
			}
	} else {
		/* Interlaced colour: every pass touches every row, so keep
		 * all the samples, then reduce. */
		if (!(c->tmp = malloc(rowbytes * h))) {
			snprintf(c->msg, sizeof c->msg, "out of memory for %ux%u pixels",
				(unsigned)w, (unsigned)h);
			own_error(png, c);
		}
		for (int p = 0; p < passes; p++)
			for (png_uint_32 y = 0; y < h; y++)
				png_read_row(png, c->tmp + rowbytes * y, NULL);
		for (png_uint_32 y = 0; y < h; y++)
			row_to_gray(c->px + (size_t)y * w, c->tmp + rowbytes * y, w, ch);
	}
	/* The rest of the file, to its IEND: a truncated or corrupt tail is
	 * an error, not a silently accepted image. */
	png_read_end(png, NULL);
	img->w = w;
	img->h = h;
	img->px = c->px;
	c->px = NULL;
}

int cxr_png_decode_gray(FILE *f, const char *name, cxr_gray *img)
{
	struct pngctx ctx = { .f = f, .name = name };
	struct pngctx *c = &ctx;
	uint8_t sig[8];
	size_t got;

	img->w = img->h = 0;
	img->px = NULL;
	got = fread(sig, 1, sizeof sig, f);
	if (got < sizeof sig && ferror(f)) {
		cxr_seterr("%s: read error: %s", name, strerror(errno));
		return -1;
	}
	if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
		cxr_seterr("%s: not a PNG file", name);
		return -1;
	}

	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c,
		on_error, on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		cxr_seterr("%s: out of memory", name);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		decode_error(c);
		png_destroy_read_struct(&png, &info, NULL);
		free(c->px);
		free(c->tmp);
		return -1;
	}
	png_set_read_fn(png, c, read_fn);
	png_set_sig_bytes(png, sizeof sig);
	png_set_user_limits(png, CXR_PNG_MAX_DIM, CXR_PNG_MAX_DIM);
	png_set_chunk_malloc_max(png, CHUNK_MALLOC_MAX);
	/* No ancillary chunk but tRNS changes the gray we make, and libpng
	 * 1.6 reads a text or profile chunk whole into memory whatever its
	 * declared length (a 52-byte file claiming a 2 GB zTXt took 2 GB and
	 * 15 s): treated as unknown and never kept, they are skipped in small
	 * reads instead, still under their CRC. */
	static const png_byte ignored[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
					  "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored, (int)(sizeof ignored / 5));
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	decode(png, info, c, img);
	png_destroy_read_struct(&png, &info, NULL);
	free(c->tmp);
	return 0;
}

int cxr_png_read_gray(const char *path, cxr_gray *img)
{
	img->w = img->h = 0;
	img->px = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return -1;
	}
	/* libpng asks for 8-byte chunk headers and whole chunks (8 KiB
	 * IDATs in NIH files), which stdio's default 4 KiB buffer turns into
	 * about a hundred read calls per image; a larger buffer, two. */
	char *buf = malloc(READ_BUF);
	if (buf)
		setvbuf(f, buf, _IOFBF, READ_BUF);
	int r = cxr_png_decode_gray(f, path, img);
	fclose(f);
	free(buf);
	return r;
}

void cxr_gray_free(cxr_gray *img)
{
	free(img->px);
	img->px = NULL;
	img->w = img->h = 0;
}

static void write_fn(png_structp png, png_bytep buf, size_t n)
{
	struct pngctx *c = png_get_io_ptr(png);
	if (fwrite(buf, 1, n, c->f) != n) {
		c->ioerr = errno ? errno : EIO;
		png_error(png, "write error");
	}
}

static void flush_fn(png_structp png) { (void)png; }

int cxr_png_write_gray(FILE *f, const char *name, const uint8_t *px,
	uint32_t w, uint32_t h, int level)
{
	struct pngctx ctx = { .f = f, .name = name };
	struct pngctx *c = &ctx;

	if (w == 0 || h == 0 || w > CXR_PNG_MAX_DIM || h > CXR_PNG_MAX_DIM ||
	    (uint64_t)w * h > CXR_PNG_MAX_PIXELS) {
		cxr_seterr("%s: cannot write a %ux%u PNG", name, (unsigned)w, (unsigned)h);
		return -1;
	}
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c,
		on_error, on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		cxr_seterr("%s: out of memory", name);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		if (c->ioerr)
			cxr_seterr("%s: write error: %s", name, strerror(c->ioerr));
		else
			cxr_seterr("%s: PNG write: %s", name, c->msg);
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	png_set_write_fn(png, c, write_fn, flush_fn);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (level >= 0)
		png_set_compression_level(png, level > 9 ? 9 : level);
	png_write_info(png, info);
	for (uint32_t y = 0; y < h; y++)
		png_write_row(png, px + (size_t)y * w);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	return 0;
}
