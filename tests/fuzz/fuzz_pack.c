/* fuzz_pack — the seek index of a packed stream (cxr_pack_open in
 * lib/data/stream.h, man/cxr-stream.5) and random access through it
 * (cxr_pack_get of every record, at most 64). The reader takes a path: the
 * input is written to a file of this process first.
 *
 * The index carries a CRC-32C that the fuzzer would rarely get right: an
 * input whose footer names an index is also run with that CRC corrected,
 * so that the checks after it are reached too. */
#include "base/crc32c.h"
#include "data/stream.h"
#include "fuzz.h"

static void read_pack(const uint8_t *data, size_t size)
{
	cxr_pack *p = cxr_pack_open(fuzz_file(data, size));
	if (!p) {
		fuzz_touch_str(cxr_errmsg());
		return;
	}
	uint64_t n = cxr_pack_count(p);
	cxr_record r;
	cxr_record_init(&r);
	for (uint64_t k = 0; k < n && k < 64; k++)
		if (cxr_pack_get(p, k, &r) == 0) {
			fuzz_touch(r.data, r.nbytes);
			fuzz_touch_str(r.name);
			fuzz_touch_str(r.meta.image);
		} else {
			fuzz_touch_str(cxr_errmsg());
		}
	cxr_pack_get(p, n, &r); /* one past the end: an error */
	cxr_record_free(&r);
	cxr_pack_close(p);
}

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_pack(data, size);
	/* footer: u32 index frame size, "CXRX"; the CRC-32C of the index
	 * body sits 12 bytes before the end, over the bytes from 8 past the
	 * frame start. */
	if (size < 36 || memcmp(data + size - 4, "CXRX", 4))
		return 0;
	uint32_t fsize = get_u32(data + size - 8);
	if (fsize < 36 || fsize > size)
		return 0;
	const uint8_t *body = data + size - fsize + 8;
	size_t blen = fsize - 8 - 8 - 4;
	uint32_t crc = cxr_crc32c(0, body, blen);
	if (crc == get_u32(body + blen))
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	for (int i = 0; i < 4; i++)
		fixed[size - fsize + 8 + blen + i] = (uint8_t)(crc >> (8 * i));
	read_pack(fixed, size);
	free(fixed);
	return 0;
}
