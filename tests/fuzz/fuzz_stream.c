/* fuzz_stream — the sequential tensor stream reader (lib/data/stream.h,
 * man/cxr-stream.5): every record of the input, which may be several
 * streams concatenated, read through a FILE without a descriptor.
 *
 * An input that starts with the zstd frame magic (28 b5 2f fd) or a
 * skippable frame's (5? 2a 4d 18) is read as it is. Any other input is
 * taken as the decompressed content (chunks "CXRS", "CXRR", "CXRE") and
 * compressed into one zstd frame first, so that the fuzzer reaches the
 * chunk and record parsing past zstd's checksums. */
#include "data/stream.h"
#include "fuzz.h"

static void read_all(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_reader *rd = cxr_reader_open(f, "fuzz.cxs");
	cxr_record r;
	cxr_record_init(&r);
	int rc;
	while ((rc = cxr_reader_next(rd, &r)) == 1) {
		char shape[64];
		cxr_shape_str(&r, shape, sizeof shape);
		size_t n = cxr_dtype_size(r.dtype);
		for (int i = 0; i < r.ndim; i++)
			n *= r.dims[i];
		if (r.ndim < 1 || r.ndim > CXR_MAX_DIMS || n != r.nbytes || !r.data) {
			fprintf(stderr, "fuzz_stream: record %s: %zu bytes for shape %s\n",
				r.meta.image ? r.meta.image : "?", r.nbytes, shape);
			abort();
		}
		fuzz_touch(r.data, r.nbytes);
		fuzz_touch_str(r.name);
		fuzz_touch_str(r.meta.image);
		fuzz_touch_str(r.meta.findings);
		fuzz_touch_str(r.meta.patient);
		fuzz_touch_str(r.meta.view);
	}
	if (rc < 0)
		fuzz_touch_str(cxr_errmsg());
	(void)cxr_reader_count(rd);
	cxr_record_free(&r);
	cxr_reader_close(rd);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int framed = size >= 4 && ((data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f &&
				    data[3] == 0xfd) ||
				   ((data[0] & 0xf0) == 0x50 && data[1] == 0x2a && data[2] == 0x4d &&
				    data[3] == 0x18));
	if (framed) {
		read_all(data, size);
		return 0;
	}
	size_t zn;
	uint8_t *z = fuzz_zstd(data, size, &zn);
	read_all(z, zn);
	free(z);
	return 0;
}
