/* check_model — the .cxm container: round trips, and every kind of bad
 * file refused with a message naming the file (and the tensor where there
 * is one). Bad files are built here byte by byte, with a valid checksum
 * where the test aims past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cli.h"
#include "data/model_file.h"
#include "base/sha256.h"
#include "data/stream.h"
#include "testutil.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	snprintf(path, sizeof path, "%s/m.cxm", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *p, const void *buf, size_t n)
{
	unlink(p); /* truncating would make ext4 flush at close: slow */
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_file(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	unsigned char *buf = malloc(*n + 1);
	ck_assert_uint_eq(fread(buf, 1, *n, f), *n);
	fclose(f);
	return buf;
}

/* Loading path must fail with a message that contains the file name and
 * want. */
static void expect_refused(const char *p, const char *want)
{
	cxr_model *m = cxr_model_load(p);
	if (m) {
		cxr_model_free(m);
		ck_abort_msg("%s loaded, expected an error about '%s'", p, want);
	}
	const char *e = cxr_errmsg();
	ck_assert_msg(strstr(e, p), "message '%s' does not name the file", e);
	ck_assert_msg(strstr(e, want), "message '%s' does not say '%s'", e, want);
}

/* ---- a raw content builder, for files the library would never write ---- */

typedef struct raw {
	unsigned char *b;
	size_t n, cap;
} raw;

static void raw_put(raw *r, const void *p, size_t n)
{
	if (r->n + n > r->cap) {
		r->cap = 2 * (r->n + n) + 256;
		r->b = realloc(r->b, r->cap);
	}
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void raw_u32(raw *r, uint32_t v)
{
	unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24};
	raw_put(r, b, 4);
}

static void raw_u64(raw *r, uint64_t v)
{
	raw_u32(r, (uint32_t)v);
	raw_u32(r, (uint32_t)(v >> 32));
}

static void raw_str(raw *r, const char *s)
{
	raw_u32(r, (uint32_t)strlen(s));
	raw_put(r, s, strlen(s));
}

static void raw_pad(raw *r)
{
	static const unsigned char z[64];
	raw_put(r, z, (64 - r->n % 64) % 64);
}

/* "CXRM", version, one metadata entry */
static void raw_head(raw *r, uint32_t version)
{
	raw_put(r, "CXRM", 4);
	raw_u32(r, version);
	raw_u32(r, 1);
	raw_str(r, "arch");
	raw_str(r, "resnet50");
}

/* one tensor header: name, dtype, dims, padding */
static void raw_tensor(raw *r, const char *name, int dtype, int ndim, const uint64_t *dims)
{
	raw_str(r, name);
	unsigned char b[2] = {dtype, ndim};
	raw_put(r, b, 2);
	for (int d = 0; d < ndim; d++)
		raw_u64(r, dims[d]);
	raw_pad(r);
}

/* Appends the checksum (unless sum is 0), compresses and writes to p,
 * then appends extra bytes after the frame. Frees r. */
static void raw_finish(raw *r, const char *p, int sum, const void *extra, size_t nextra)
{
	if (sum) {
		unsigned char s[32];
		cxr_sha256_buf(r->b, r->n, s);
		raw_put(r, s, 32);
	}
	size_t cap = ZSTD_compressBound(r->n) + nextra;
	unsigned char *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	size_t k = ZSTD_compress2(c, z, cap, r->b, r->n);
	ck_assert(!ZSTD_isError(k));
	ZSTD_freeCCtx(c);
	if (nextra) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(z + k, extra, nextra);
	write_file(p, z, k + nextra);
	free(z);
	free(r->b);
}

/* ---- tests ---- */

static cxr_model *sample(void)
{
	cxr_model *m = cxr_model_new();
	cxr_model_set_meta(m, "arch", "resnet50");
	cxr_model_set_meta(m, "width_mult", "0.125");
	cxr_model_set_meta(m, "note", "çà et là ✓");
	cxr_model_set_meta(m, "empty", "");
	int64_t d4[4] = {8, 1, 7, 7}, d1[1] = {3}, d8[8] = {1, 2, 1, 2, 1, 2, 1, 3}, d0[1] = {0};
	float *w = cxr_model_add(m, "conv1.weight", CXR_F32, 4, d4);
	for (int i = 0; i < 8 * 49; i++)
		w[i] = (float)i * 0.25f - 3;
	unsigned char u8[3] = {0, 128, 255};
	cxr_model_add_copy(m, "bytes", CXR_U8, 1, d1, u8);
	uint16_t *u16 = cxr_model_add(m, "eight_dims", CXR_U16, 8, d8);
	for (int i = 0; i < 24; i++)
		u16[i] = (uint16_t)(i * 2731);
	float one = 42.5f;
	cxr_model_add_copy(m, "scalar", CXR_F32, 0, NULL, &one);
	cxr_model_add(m, "empty", CXR_F32, 1, d0);
	return m;
}

static void same_models(const cxr_model *a, const cxr_model *b)
{
	ck_assert_int_eq(cxr_model_nmeta(a), cxr_model_nmeta(b));
	for (int i = 0; i < cxr_model_nmeta(a); i++) {
		const char *ka, *va, *kb, *vb;
		cxr_model_meta_at(a, i, &ka, &va);
		cxr_model_meta_at(b, i, &kb, &vb);
		ck_assert_str_eq(ka, kb);
		ck_assert_str_eq(va, vb);
	}
	ck_assert_int_eq(cxr_model_ntensors(a), cxr_model_ntensors(b));
	for (int i = 0; i < cxr_model_ntensors(a); i++) {
		const cxr_tensor *x = cxr_model_tensor_at(a, i), *y = cxr_model_tensor_at(b, i);
		ck_assert_str_eq(x->name, y->name);
		ck_assert_int_eq(x->dtype, y->dtype);
		ck_assert_int_eq(x->ndim, y->ndim);
		for (int d = 0; d < x->ndim; d++)
			ck_assert_int_eq(x->dims[d], y->dims[d]);
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		ck_assert(x->nbytes == 0 || !memcmp(x->data, y->data, x->nbytes));
	}
}

START_TEST(test_round_trip)
{
	cxr_model *m = sample();
	char before[13];
	snprintf(before, sizeof before, "%s", cxr_model_digest(m));
	ck_assert_int_eq(strlen(before), 12);
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	ck_assert_str_eq(cxr_model_digest(m), before);
	ck_assert_ptr_null(cxr_model_path(m));

	cxr_model *r = cxr_model_load(path);
	ck_assert_msg(r, "%s", cxr_errmsg());
	same_models(m, r);
	ck_assert_str_eq(cxr_model_digest(r), before);
	ck_assert_str_eq(cxr_model_path(r), path);
	ck_assert_str_eq(cxr_model_get_meta(r, "note"), "çà et là ✓");
	ck_assert_ptr_null(cxr_model_get_meta(r, "absent"));
	for (int i = 0; i < cxr_model_ntensors(r); i++)
		ck_assert_uint_eq((uintptr_t)cxr_model_tensor_at(r, i)->data % 64, 0);
	ck_assert_float_eq(*(const float *)cxr_model_find(r, "scalar")->data, 42.5f);

	/* saving a loaded model gives the same content */
	char path2[160];
	snprintf(path2, sizeof path2, "%s/again.cxm", dir);
	ck_assert_int_eq(cxr_model_save(r, path2), 0);
	cxr_model *r2 = cxr_model_load(path2);
	ck_assert_ptr_nonnull(r2);
	ck_assert_str_eq(cxr_model_digest(r2), before);

	/* a change changes the digest; the old content is still that digest */
	cxr_model_set_meta(r, "threshold", "0.37");
	ck_assert_str_ne(cxr_model_digest(r), before);
	cxr_model_set_meta(r, "threshold", NULL);
	ck_assert_str_eq(cxr_model_digest(r), before);

	/* no temporary files left beside the outputs */
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 2", dir);
	ck_assert_int_eq(system(cmd), 0);
	cxr_model_free(m);
	cxr_model_free(r);
	cxr_model_free(r2);
}
END_TEST

/* The digest is the first 12 hex digits of SHA-256 over the content before
 * its trailer: `zstd -dc f | head -c -32 | sha256sum`. */
START_TEST(test_digest_shell)
{
	cxr_model *m = sample();
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	char cmd[256], out[80] = "";
	snprintf(cmd, sizeof cmd, "zstd -qdc %s | head -c -32 | sha256sum", path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(out, sizeof out, p));
	pclose(p);
	ck_assert_int_eq(strncmp(out, cxr_model_digest(m), 12), 0);
	cxr_model_free(m);
}
END_TEST

START_TEST(test_edit)
{
	cxr_model *m = sample();
	const cxr_tensor *keep = cxr_model_find(m, "bytes");
	int64_t d[2] = {2, 2};
	float v[4] = {1, 2, 3, 4};
	int n = cxr_model_ntensors(m);
	cxr_model_add_copy(m, "conv1.weight", CXR_F32, 2, d, v); /* replaces, in place */
	ck_assert_int_eq(cxr_model_ntensors(m), n);
	ck_assert_str_eq(cxr_model_tensor_at(m, 0)->name, "conv1.weight");
	ck_assert_int_eq(cxr_model_tensor_at(m, 0)->ndim, 2);
	ck_assert_ptr_eq(cxr_model_find(m, "bytes"), keep); /* others untouched */
	for (int i = 0; i < 200; i++) { /* growth keeps pointers valid */
		char name[32];
		snprintf(name, sizeof name, "extra.%d", i);
		cxr_model_add(m, name, CXR_U8, 1, d);
	}
	ck_assert_ptr_eq(cxr_model_find(m, "bytes"), keep);
	ck_assert_int_eq(cxr_model_remove(m, "bytes"), 1);
	ck_assert_int_eq(cxr_model_remove(m, "bytes"), 0);
	ck_assert_ptr_null(cxr_model_find(m, "bytes"));
	cxr_model_set_meta(m, "arch", "other");
	ck_assert_str_eq(cxr_model_get_meta(m, "arch"), "other");
	const char *k, *val;
	cxr_model_meta_at(m, 0, &k, &val);
	ck_assert_str_eq(k, "arch");
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	cxr_model *r = cxr_model_load(path);
	ck_assert_ptr_nonnull(r);
	same_models(m, r);
	cxr_model_free(m);
	cxr_model_free(r);
}
END_TEST

START_TEST(test_expect_f32)
{
	cxr_model *m = sample();
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	cxr_model_free(m);
	m = cxr_model_load(path);
	int64_t good[4] = {8, 1, 7, 7}, bad[4] = {8, 1, 3, 3};
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "conv1.weight", 4, good));
	ck_assert_ptr_null(cxr_model_expect_f32(m, "conv1.weight", 4, bad));
	const char *e = cxr_errmsg();
	ck_assert_msg(strstr(e, path) && strstr(e, "conv1.weight") && strstr(e, "[8,1,7,7]") &&
			      strstr(e, "[8,1,3,3]"),
		      "%s", e);
	ck_assert_ptr_null(cxr_model_expect_f32(m, "fc9.weight", 4, good));
	ck_assert_msg(strstr(cxr_errmsg(), "fc9.weight"), "%s", cxr_errmsg());
	int64_t d1[1] = {3};
	ck_assert_ptr_null(cxr_model_expect_f32(m, "bytes", 1, d1)); /* u8, not f32 */
	ck_assert_msg(strstr(cxr_errmsg(), "u8"), "%s", cxr_errmsg());
	cxr_model_free(m);
}
END_TEST

/* Every single-byte change of the file is refused or harmless (zstd's
 * frame header has bits a decoder ignores; then the content is intact),
 * and every truncation is refused. */
START_TEST(test_flip_and_truncate)
{
	cxr_model *m = sample();
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	cxr_model_free(m);
	size_t n;
	unsigned char *good = read_file(path, &n);
	m = cxr_model_load(path);
	char digest[13];
	snprintf(digest, sizeof digest, "%s", cxr_model_digest(m));
	cxr_model_free(m);
	int harmless = 0;
	char bad[160];
	snprintf(bad, sizeof bad, "%s/bad.cxm", dir);
	for (size_t i = 0; i < n; i++) {
		good[i] ^= 0x10;
		write_file(bad, good, n);
		good[i] ^= 0x10;
		m = cxr_model_load(bad);
		if (m) {
			ck_assert_msg(!strcmp(cxr_model_digest(m), digest),
				      "a flip at byte %zu of %zu was not noticed", i, n);
			harmless++;
			cxr_model_free(m);
			continue;
		}
		ck_assert_msg(strstr(cxr_errmsg(), bad), "%s", cxr_errmsg());
	}
	ck_assert_int_le(harmless, 2);
	for (size_t k = 0; k < n; k++) {
		write_file(bad, good, k);
		m = cxr_model_load(bad);
		ck_assert_msg(!m, "a cut at byte %zu of %zu was not noticed", k, n);
		ck_assert_msg(strstr(cxr_errmsg(), bad), "%s", cxr_errmsg());
	}
	write_file(bad, good, n - 1);
	expect_refused(bad, "truncated");
	write_file(bad, good, 0);
	expect_refused(bad, "not a model file (it is empty)");
	/* garbage after the frame, even a valid second frame */
	unsigned char *twice = malloc(2 * n);
	memcpy(twice, good, n);
	memcpy(twice + n, good, n);
	write_file(bad, twice, n + 1);
	expect_refused(bad, "trailing data after the zstd frame");
	write_file(bad, twice, 2 * n);
	expect_refused(bad, "trailing data after the zstd frame");
	free(twice);
	free(good);
}
END_TEST

START_TEST(test_not_a_model)
{
	write_file(path, "image\tlabel\n", 12);
	expect_refused(path, "not a model file (it is text)");
	write_file(path, "\0\1\2\3\4\5\6\7", 8);
	expect_refused(path, "not a model file (it is not zstd-compressed)");
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none.cxm", dir);
	expect_refused(missing, "No such file");
	/* a zstd file of something else */
	raw r = {0};
	raw_put(&r, "hello, this is not a model at all", 33);
	raw_finish(&r, path, 0, NULL, 0);
	expect_refused(path, "not a model file (it is zstd-compressed, but not by the cxr tools)");
	/* the project's other files, and an image */
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	cxr_writer *w = cxr_writer_open(f, "mem", 3);
	ck_assert_int_eq(cxr_writer_close(w, 0), 0);
	fclose(f);
	write_file(path, mem, len);
	free(mem);
	expect_refused(path, "not a model file (it is a tensor stream or pack)");
	expect_refused(test_data("png/gray8.png"), "not a model file (it is a PNG image)");
}
END_TEST

START_TEST(test_version)
{
	raw r = {0};
	raw_head(&r, 2);
	raw_u32(&r, 0);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "version 2");
}
END_TEST

START_TEST(test_checksum)
{
	raw r = {0};
	raw_head(&r, 1);
	raw_u32(&r, 0);
	raw_put(&r, "0123456789abcdef0123456789abcdef", 32); /* not the SHA-256 */
	raw_finish(&r, path, 0, NULL, 0);
	expect_refused(path, "checksum mismatch");
}
END_TEST

START_TEST(test_huge_dims)
{
	uint64_t huge[2] = {1ull << 31, 1ull << 31};
	raw r = {0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "fc1.weight", CXR_F32, 2, huge);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "'fc1.weight'");
	expect_refused(path, "too large");

	uint64_t wrap[2] = {1ull << 62, 4}; /* the product wraps to 0 in 64 bits */
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "wrap", CXR_F32, 2, wrap);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "'wrap'");

	/* within the limit, but the data is not there */
	uint64_t big[1] = {1u << 28};
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "big", CXR_F32, 1, big);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "tensor 'big' data runs past the end");
}
END_TEST

START_TEST(test_bad_headers)
{
	uint64_t d1[1] = {2};
	float two[2] = {1, 2};
	struct {
		const char *want;
		int dtype, ndim;
		const char *name;
	} cases[] = {
		{"'x': unknown dtype code 7", 7, 1, "x"},
		{"'x': unknown dtype code 0", 0, 1, "x"},
		{"'x': 9 dimensions", CXR_F32, 9, "x"},
		{"tensor 0 name: length 0", CXR_F32, 1, ""},
		{"not valid UTF-8", CXR_F32, 1, "bad\xff"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		raw r = {0};
		uint64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
		raw_head(&r, 1);
		raw_u32(&r, 1);
		raw_tensor(&r, cases[i].name, cases[i].dtype, cases[i].ndim,
			   cases[i].ndim == 9 ? d9 : d1);
		raw_put(&r, two, 8);
		raw_finish(&r, path, 1, NULL, 0);
		expect_refused(path, cases[i].want);
	}

	/* a name length of 4 GiB, refused before any allocation */
	raw r = {0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_u32(&r, 0xffffffffu);
	raw_put(&r, "abcdefgh", 8);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "tensor 0 name: length 4294967295");

	/* counts larger than the content could hold */
	r = (raw){0};
	raw_put(&r, "CXRM", 4);
	raw_u32(&r, 1);
	raw_u32(&r, 60000);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "bad metadata count 60000");
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 0xffffffffu);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "bad tensor count");

	/* duplicates */
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 2);
	raw_tensor(&r, "fc2.bias", CXR_F32, 1, d1);
	raw_put(&r, two, 8);
	raw_tensor(&r, "fc2.bias", CXR_F32, 1, d1);
	raw_put(&r, two, 8);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "duplicate tensor name 'fc2.bias'");
	r = (raw){0};
	raw_put(&r, "CXRM", 4);
	raw_u32(&r, 1);
	raw_u32(&r, 2);
	raw_str(&r, "seed");
	raw_str(&r, "1");
	raw_str(&r, "seed");
	raw_str(&r, "2");
	raw_u32(&r, 0);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "duplicate metadata key 'seed'");

	/* non-zero padding before the data */
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "pad", CXR_F32, 1, d1);
	r.b[r.n - 1] = 1;
	raw_put(&r, two, 8);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "'pad': non-zero padding");

	/* bytes between the last tensor and the checksum */
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "x", CXR_F32, 1, d1);
	raw_put(&r, two, 8);
	raw_put(&r, "junk", 4);
	raw_finish(&r, path, 1, NULL, 0);
	expect_refused(path, "4 bytes of trailing data after the last tensor");

	/* the same file without the junk loads */
	r = (raw){0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	raw_tensor(&r, "x", CXR_F32, 1, d1);
	raw_put(&r, two, 8);
	raw_finish(&r, path, 1, NULL, 0);
	cxr_model *m = cxr_model_load(path);
	ck_assert_msg(m, "%s", cxr_errmsg());
	ck_assert_float_eq(((const float *)cxr_model_find(m, "x")->data)[1], 2.0f);
	cxr_model_free(m);
}
END_TEST

START_TEST(test_save_errors)
{
	cxr_model *m = sample();
	char p[200];
	snprintf(p, sizeof p, "%s/no/such/dir/m.cxm", dir);
	ck_assert_int_eq(cxr_model_save(m, p), -1);
	ck_assert_msg(strstr(cxr_errmsg(), p), "%s", cxr_errmsg());
	cxr_model_set_meta(m, "bad", "\xc3\x28");
	ck_assert_int_eq(cxr_model_save(m, path), -1);
	ck_assert_msg(strstr(cxr_errmsg(), "UTF-8"), "%s", cxr_errmsg());
	ck_assert_int_eq(access(path, F_OK), -1);
	cxr_model_free(m);
}
END_TEST

/* Written by bench/torch2cxm.py from a PyTorch state_dict:
 *	SOURCE_DATE_EPOCH=0 /usr/bin/python3 bench/torch2cxm.py --width 0.015625 \
 *	    --size 64 --seed 1 -o tests/data/torch_w64.cxm
 * the documented layout is enough for another program to write a file. */
START_TEST(test_torch2cxm)
{
	cxr_model *m = cxr_model_load(test_data("torch_w64.cxm"));
	ck_assert_msg(m, "%s", cxr_errmsg());
	ck_assert_str_eq(cxr_model_get_meta(m, "arch"), "resnet50");
	ck_assert_str_eq(cxr_model_get_meta(m, "width_mult"), "0.015625");
	ck_assert_str_eq(cxr_model_get_meta(m, "input_scale"), "1/255");
	int64_t stem[4] = {1, 1, 7, 7}, c1[1] = {1}, ds[4] = {32, 16, 1, 1}, fc1[2] = {512, 32},
		fc2[2] = {1, 512}, one[1] = {1}, l2c2[4] = {2, 2, 3, 3};
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "conv1.weight", 4, stem));
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "bn1.running_var", 1, c1));
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "layer2.3.conv2.weight", 4, l2c2));
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "layer4.0.downsample.0.weight", 4, ds));
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "fc1.weight", 2, fc1));
	ck_assert_ptr_nonnull(cxr_model_expect_f32(m, "fc2.weight", 2, fc2));
	const float *b = cxr_model_expect_f32(m, "fc2.bias", 1, one);
	ck_assert_ptr_nonnull(b);
	/* 53 convs, 53 BNs (4 tensors each), 2 dense (2 each); no num_batches_tracked */
	ck_assert_int_eq(cxr_model_ntensors(m), 53 + 53 * 4 + 4);
	ck_assert_ptr_null(cxr_model_find(m, "bn1.num_batches_tracked"));
	/* the value torch2cxm.py printed when it wrote the file */
	ck_assert_msg(*b == -0.014541694894433022f, "fc2.bias %.9g", *b);
	/* the C writer gives the Python writer's bytes */
	const char *digest = cxr_model_digest(m);
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	cxr_model *r = cxr_model_load(path);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(cxr_model_digest(r), digest);
	cxr_model_free(r);
	cxr_model_free(m);
}
END_TEST

/* FIPS 180-4 test vectors, on the SHA-NI path (where the CPU has it) and
 * on the portable one. */
START_TEST(test_sha256)
{
	static const char *want[3] = {
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	};
	char *million = malloc(1000000);
	memset(million, 'a', 1000000);
	for (int portable = 0; portable < 2; portable++) {
		if (portable)
			setenv("CXR_NO_SHANI", "1", 1);
		unsigned char sum[32];
		char hex[65];
		cxr_sha256_buf("", 0, sum);
		cxr_sha256_hex(sum, hex);
		ck_assert_str_eq(hex, want[0]);
		cxr_sha256_buf("abc", 3, sum);
		cxr_sha256_hex(sum, hex);
		ck_assert_str_eq(hex, want[1]);
		cxr_sha256 s;
		cxr_sha256_init(&s);
		for (int i = 0; i < 1000000; i += 999) /* odd pieces */
			cxr_sha256_update(&s, million + i, i + 999 > 1000000 ? 1000000 - i : 999);
		cxr_sha256_final(&s, sum);
		cxr_sha256_hex(sum, hex);
		ck_assert_str_eq(hex, want[2]);
	}
	unsetenv("CXR_NO_SHANI");
	free(million);
}
END_TEST

/* ---- memory follows the bytes, not what the file claims ---- */


/* A zstd frame: a raw block of head (n bytes), then blocks RLE blocks of
 * 128 KiB of zeros (4 bytes each); declaring a content size of declared
 * bytes where that is not 0, else none. */
static void write_frame(const char *p, const void *head, size_t n, size_t blocks,
			uint64_t declared)
{
	raw r = {0};
	if (declared) { /* 8-byte content size, no checksum; window 128 KiB */
		unsigned char h[14] = {0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x38};
		for (int i = 0; i < 8; i++)
			h[6 + i] = (unsigned char)(declared >> 8 * i);
		raw_put(&r, h, sizeof h);
	} else {
		raw_put(&r, "\x28\xb5\x2f\xfd\x00\x38", 6); /* no size, no checksum; window 128 KiB */
	}
	unsigned char b[4] = {(unsigned char)(n << 3 | !blocks), (unsigned char)(n >> 5),
			      (unsigned char)(n >> 13)};
	raw_put(&r, b, 3);
	raw_put(&r, head, n);
	for (size_t i = 0; i < blocks; i++) {
		unsigned v = (131072u << 3) | (1u << 1) | (i + 1 == blocks);
		unsigned char rle[4] = {(unsigned char)v, (unsigned char)(v >> 8),
					(unsigned char)(v >> 16), 0};
		raw_put(&r, rle, 4);
	}
	write_file(p, r.b, r.n);
	free(r.b);
}

/* A frame without a content size: head, then gib GiB of zeros. */
static void write_bomb(const char *p, const void *head, size_t n, unsigned gib)
{
	write_frame(p, head, n, (size_t)gib << 13, 0);
}

/* The process's peak address space so far, in kB (0 if unknown). */
static unsigned long vm_peak_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmPeak: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Loads p with the address space at most 128 MB over what it is; must
 * fail with want in the message, never for want of memory. */
static void refused_in_little_memory(const char *p, const char *want)
{
	int limited = limit_memory(128) == 0;
	cxr_model *m = cxr_model_load(p);
	if (limited)
		unlimit_memory();
	ck_assert_msg(!m, "%s loaded", p);
	const char *e = cxr_errmsg();
	ck_assert_msg(!strstr(e, "out of memory"), "%s", e);
	ck_assert_msg(strstr(e, p) && strstr(e, want), "'%s' does not say '%s'", e, want);
}

/* fuzz finding bomb-1g.cxm: "CXRM", version 1 and 1 GiB of zeros, no
 * declared size: the whole content was decompressed (2 GB peak) before
 * the magic was looked at. And a bomb of zeros alone, as t-faults makes
 * with zstd. */
START_TEST(test_bombs)
{
	write_bomb(path, "CXRM\1\0\0\0\0\0\0\0\0\0\0\0", 16, 1);
	refused_in_little_memory(path, "bytes of trailing data after the last tensor");
	write_bomb(path, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 1);
	refused_in_little_memory(path,
				 "not a model file (it is zstd-compressed, but not by the cxr tools)");
	/* a good head, then the first tensor's data claimed and missing */
	raw r = {0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	uint64_t d[1] = {1ull << 30};
	raw_tensor(&r, "big", CXR_U8, 1, d);
	write_bomb(path, r.b, r.n, 0);
	free(r.b);
	refused_in_little_memory(path, "tensor 'big' data runs past the end");
}
END_TEST

/* A model whose frame declares its size (as cxr_model_save writes them)
 * is decompressed into one block of that size: loading needs little more
 * address space than the content. The block grown by doubling, 40 MB of
 * content needed the 32 MB block and the 40 MB one at once (and 220 MB
 * of pages were touched for a 94 MB ResNet-50). */
START_TEST(test_sized_load_in_one_block)
{
	enum { N = 10 << 20 }; /* floats: 40 MB, as weights compress: little */
	cxr_model *m = cxr_model_new();
	int64_t d[1] = {N};
	float *w = cxr_model_add(m, "big", CXR_F32, 1, d);
	uint32_t x = 12345;
	for (size_t i = 0; i < N; i++) {
		x = x * 1664525u + 1013904223u;
		w[i] = (float)(x >> 8) * 0x1p-24f - 0.5f;
	}
	const float first = w[0], last = w[N - 1];
	ck_assert_int_eq(cxr_model_save(m, path), 0);
	cxr_model_free(m);
	int limited = limit_memory(56) == 0;
	m = cxr_model_load(path);
	if (limited)
		unlimit_memory();
	ck_assert_msg(m, "a 40 MB model in 56 MB of address space: %s", cxr_errmsg());
	const cxr_tensor *t = cxr_model_find(m, "big");
	ck_assert(t && t->nbytes == (size_t)N * sizeof(float));
	const float *v = t->data;
	ck_assert(v[0] == first && v[N - 1] == last);
	cxr_model_free(m);
}
END_TEST

/* A frame that declares far more content than its file holds (a tensor
 * of 256 MiB claimed, the frame's size saying so, 4 MiB of zeros there)
 * gets no block of the declared size: the block grows with the bytes, as
 * without a declared size, and the load fails on the missing bytes. */
START_TEST(test_sized_claim_grows_with_the_bytes)
{
	raw r = {0};
	raw_head(&r, 1);
	raw_u32(&r, 1);
	uint64_t d[1] = {256ull << 20};
	raw_tensor(&r, "big", CXR_U8, 1, d);
	write_frame(path, r.b, r.n, 32, r.n + d[0] + 32);
	free(r.b);
	unsigned long before = vm_peak_kb();
	cxr_model *m = cxr_model_load(path);
	ck_assert_msg(!m, "a model 252 MiB short loaded");
	unsigned long grew = vm_peak_kb() - before;
	/* ASan's allocator maps memory its own way: there the load's
	 * failure is the check */
	if (!getenv("CXR_SANITIZE"))
		ck_assert_msg(before && grew < (64ul << 10),
			      "a claim of 256 MiB in a file of a few kB took %lu kB of address "
			      "space (%s)", grew, cxr_errmsg());
}
END_TEST

/* fuzz finding content-size-8g.cxm: a frame header declaring 8 GiB - 1
 * bytes of content sized the buffer before any byte was read (8 GiB of
 * address space for an 18-byte file: "out of memory" under a limit). */
START_TEST(test_declared_size)
{
	static const unsigned char f[18] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0xff, 0xff, 0xff, 0xff,
					    0x01, 0, 0, 0, 0x09, 0, 0, 'C'};
	write_file(path, f, 17);
	refused_in_little_memory(path, "corrupt zstd data");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_digest_shell);
	tcase_add_test(tc, test_edit);
	tcase_add_test(tc, test_expect_f32);
	tcase_add_test(tc, test_flip_and_truncate);
	tcase_add_test(tc, test_not_a_model);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_checksum);
	tcase_add_test(tc, test_huge_dims);
	tcase_add_test(tc, test_bad_headers);
	tcase_add_test(tc, test_save_errors);
	tcase_add_test(tc, test_torch2cxm);
	tcase_add_test(tc, test_sha256);
	tcase_add_test(tc, test_bombs);
	tcase_add_test(tc, test_sized_load_in_one_block);
	tcase_add_test(tc, test_sized_claim_grows_with_the_bytes);
	tcase_add_test(tc, test_declared_size);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
