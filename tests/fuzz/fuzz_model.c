/* fuzz_model — the .cxm model file reader (cxr_model_load in
 * lib/data/model_file.h, man/cxr-model.5), then every metadata entry and
 * tensor of a file it accepts. The reader takes a path: the input is
 * written to a file of this process first.
 *
 * An input that starts with the zstd frame magic (28 b5 2f fd) is the
 * file as it is. Any other input is taken as the content ("CXRM", version,
 * metadata, tensors) without its SHA-256: the target appends the checksum
 * and compresses it into one zstd frame, so that the fuzzer reaches the
 * parsing behind the checksum. */
#include "base/sha256.h"
#include "data/model_file.h"
#include "data/stream.h"
#include "fuzz.h"

static void load(const uint8_t *data, size_t size)
{
	cxr_model *m = cxr_model_load(fuzz_file(data, size));
	if (!m) {
		fuzz_touch_str(cxr_errmsg());
		return;
	}
	for (int i = 0; i < cxr_model_nmeta(m); i++) {
		const char *k, *v;
		cxr_model_meta_at(m, i, &k, &v);
		fuzz_touch_str(k);
		fuzz_touch_str(v);
		if (cxr_model_get_meta(m, k) != v)
			abort();
	}
	for (int i = 0; i < cxr_model_ntensors(m); i++) {
		const cxr_tensor *t = cxr_model_tensor_at(m, i);
		size_t n = cxr_dtype_size(t->dtype);
		for (int d = 0; d < t->ndim; d++)
			n *= (size_t)t->dims[d];
		if (t->ndim < 0 || t->ndim > CXR_MODEL_MAX_DIMS || n != t->nbytes)
			abort();
		fuzz_touch(t->data, t->nbytes);
		if (cxr_model_find(m, t->name) != t)
			abort();
		if (!cxr_model_expect_f32(m, t->name, t->ndim, t->dims) && t->dtype == CXR_F32)
			abort();
	}
	fuzz_touch_str(cxr_model_digest(m));
	fuzz_touch_str(cxr_model_path(m));
	cxr_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4 && data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd) {
		load(data, size);
		return 0;
	}
	uint8_t *content = malloc(size + 32);
	if (!content)
		abort();
	if (size)
		memcpy(content, data, size);
	cxr_sha256_buf(data, size, content + size);
	size_t zn;
	uint8_t *z = fuzz_zstd(content, size + 32, &zn);
	load(z, zn);
	free(z);
	free(content);
	return 0;
}
