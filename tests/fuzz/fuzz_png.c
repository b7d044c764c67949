/* fuzz_png — the PNG decoder (cxr_png_decode_gray in lib/data/png.h, with
 * the limits compiled in there: CXR_PNG_MAX_DIM, CXR_PNG_MAX_PIXELS and
 * the ancillary chunk limit), from a FILE without a descriptor.
 *
 * libpng rejects a critical chunk whose CRC is wrong, which the fuzzer
 * would rarely get right: an input that is a PNG signature and chunks is
 * also run with every chunk's CRC corrected. */
#include "data/png.h"
#include "fuzz.h"

static void decode(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_gray img;
	if (cxr_png_decode_gray(f, "fuzz.png", &img) == 0) {
		if (!img.w || !img.h || (uint64_t)img.w * img.h > CXR_PNG_MAX_PIXELS ||
		    img.w > CXR_PNG_MAX_DIM || img.h > CXR_PNG_MAX_DIM || !img.px)
			abort();
		fuzz_touch(img.px, (size_t)img.w * img.h);
		cxr_gray_free(&img);
	} else {
		if (img.px || img.w || img.h)
			abort(); /* png.h: img is empty after an error */
		fuzz_touch_str(cxr_errmsg());
	}
	fclose(f);
}

static uint32_t crc_table[256];

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	if (!crc_table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			crc_table[i] = c;
		}
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode(data, size);
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (size < 8 || memcmp(data, sig, 8))
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	int changed = 0;
	size_t at = 8;
	while (size - at >= 12) {
		uint32_t len = (uint32_t)fixed[at] << 24 | fixed[at + 1] << 16 | fixed[at + 2] << 8 |
			       fixed[at + 3];
		if (len > size - at - 12)
			break;
		uint32_t crc = crc32_png(fixed + at + 4, 4 + (size_t)len);
		uint8_t *q = fixed + at + 8 + len;
		uint8_t want[4] = {crc >> 24, crc >> 16 & 0xff, crc >> 8 & 0xff, crc & 0xff};
		if (memcmp(q, want, 4)) {
			memcpy(q, want, 4);
			changed = 1;
		}
		at += 12 + (size_t)len;
	}
	if (changed)
		decode(fixed, size);
	free(fixed);
	return 0;
}
