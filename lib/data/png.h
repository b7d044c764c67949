/* png — any PNG to 8-bit gray, with limits checked before allocating; and
 * an 8-bit gray PNG writer (cxr-pack -x, synthetic data).
 *
 * Decoding, whatever the PNG type (libpng does the unpacking):
 *   gray 1/2/4 bit   scaled to 0..255 (v*255, v*85, v*17)
 *   16-bit samples   v >> 8 (the high byte)
 *   gray+alpha       the gray sample; alpha and tRNS are ignored
 *   RGB, RGBA        ITU-R 601 luma in 16-bit fixed point, rounded half up:
 *                    (19595 R + 38470 G + 7471 B + 32768) >> 16
 *                    (Pillow's convert("L"); R=G=B gives exactly R)
 *   palette          each entry's RGB through the same luma
 *   interlaced       de-interlaced
 * Gamma, sRGB, iCCP and sBIT are ignored (no colour management), as in
 * Pillow.
 *
 * The functions are thread-safe: all libpng state lives in the call, and
 * errors come back as -1 with cxr_errmsg() (thread-local) naming the file. */
#ifndef CXR_PNG_H
#define CXR_PNG_H
#include <stdint.h>
#include <stdio.h>

/* Limits, checked from the header before any pixel memory is allocated. */
#define CXR_PNG_MAX_DIM 32768u          /* width or height */
#define CXR_PNG_MAX_PIXELS (1u << 28)   /* width x height: 256 MiB of gray */

typedef struct cxr_gray {
	uint32_t w, h;
	uint8_t *px; /* (h, w), row-major, malloc'd */
} cxr_gray;

/* Decodes the PNG file at path into img (img->px to be freed by the
 * caller). -1 with cxr_errmsg() set to "path: what" on a missing,
 * unreadable, truncated, corrupt or too large file; img is then empty. */
int cxr_png_read_gray(const char *path, cxr_gray *img);
/* The same from an open stream positioned at the PNG signature; name is
 * for messages. Reads up to the IEND chunk (so a truncated file is an
 * error); does not close f. */
int cxr_png_decode_gray(FILE *f, const char *name, cxr_gray *img);
void cxr_gray_free(cxr_gray *img);

/* Writes px (h, w) as an 8-bit gray, non-interlaced PNG to f. level is the
 * zlib level 0..9, or -1 for zlib's default. name is for messages. -1 with
 * cxr_errmsg() set on a write error or bad dimensions. Does not fflush or
 * close f (use cxr_out_open/commit for a whole-or-nothing file). */
int cxr_png_write_gray(FILE *f, const char *name, const uint8_t *px,
	uint32_t w, uint32_t h, int level);

#endif
