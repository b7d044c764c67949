/* area_resize — area-average resize of 8-bit gray images, any sizes.
 *
 * Each output pixel is the mean of the input area it covers, with input
 * pixels that straddle its edges weighted by the fraction covered (an exact
 * box filter). The means are computed in integers and rounded half up, so
 * the result is exact and the same on every machine. For 1024 -> 256 this
 * is the mean of each 4x4 block.
 *
 * Pillow's Image.BOX gives the same when the scale is an integer (up to its
 * intermediate rounding: at most 1 grey level apart); for other scales it
 * weighs whole pixels by whether their centre falls inside, so the two then
 * differ near edges.
 *
 * Width and height scale independently: a non-square input is stretched to
 * the output shape. Upscaling works too (each output pixel then covers part
 * of one or two input pixels). */
#ifndef CXR_AREA_RESIZE_H
#define CXR_AREA_RESIZE_H
#include <stdint.h>

/* dst (oh, ow) from src (h, w). Sizes from 1 to 2^16 (and w*h <= 2^30).
 * Returns -1 with cxr_errmsg() set on bad sizes or no memory. Thread-safe. */
int cxr_resize_area(uint8_t *dst, uint32_t ow, uint32_t oh,
	const uint8_t *src, uint32_t w, uint32_t h);

#endif
