/* The tensor stream: round trips, concatenation, and every way a stream
 * can be damaged (cut at each byte, flipped bytes, missing end marker)
 * read as an error that names the record, never as data. */
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cli.h"
#include "base/crc32c.h"
#include "base/le.h"
#include "data/file_kind.h"
#include "data/stream.h"
#include "testutil.h"

#define H 13
#define W 17

static void make_record(cxr_record *r, int i)
{
	cxr_record_init(r);
	r->name = cxr_xstrdup("image");
	r->dtype = CXR_U8;
	r->ndim = 3;
	r->dims[0] = 1, r->dims[1] = H, r->dims[2] = W;
	r->nbytes = H * W;
	r->data = cxr_xmalloc(r->nbytes);
	for (int k = 0; k < H * W; k++)
		((unsigned char *)r->data)[k] = (unsigned char)(k * 7 + i * 31 + (k * k) % 13);
	char name[64];
	snprintf(name, sizeof name, "%08d_%03d.png", i, i % 3);
	r->meta.image = cxr_xstrdup(name);
	r->meta.label = i % 3 == 2 ? CXR_LABEL_UNKNOWN : i % 2;
	r->meta.findings = cxr_xstrdup(i % 2 ? "Effusion|Mass" : "No Finding");
	r->meta.patient = cxr_xstrdup("42");
	r->meta.followup = i;
	r->meta.age = i % 4 ? 30.5 + i : NAN;
	r->meta.sex = i % 2 ? CXR_SEX_F : CXR_SEX_M;
	r->meta.view = cxr_xstrdup("PA");
}

/* Writes n records to a memory buffer; returns it (caller frees). */
static char *write_stream(int n, int first, int index, size_t *len, const char *path)
{
	char *mem = NULL;
	FILE *f = path ? fopen(path, "wb") : open_memstream(&mem, len);
	ck_assert_ptr_nonnull(f);
	cxr_writer *w = cxr_writer_open(f, "mem", 3);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < n; i++) {
		cxr_record r;
		make_record(&r, first + i);
		ck_assert_int_eq(cxr_writer_put(w, &r), 0);
		cxr_record_free(&r);
	}
	ck_assert_int_eq(cxr_writer_close(w, index), 0);
	fclose(f);
	return mem;
}

static void assert_same(const cxr_record *a, const cxr_record *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_int_eq(a->dtype, b->dtype);
	ck_assert_int_eq(a->ndim, b->ndim);
	for (int i = 0; i < a->ndim; i++)
		ck_assert_uint_eq(a->dims[i], b->dims[i]);
	ck_assert_uint_eq(a->nbytes, b->nbytes);
	ck_assert(!memcmp(a->data, b->data, a->nbytes));
	ck_assert_str_eq(a->meta.image, b->meta.image);
	ck_assert_int_eq(a->meta.label, b->meta.label);
	ck_assert_str_eq(a->meta.findings, b->meta.findings);
	ck_assert_str_eq(a->meta.patient, b->meta.patient);
	ck_assert_int_eq(a->meta.followup, b->meta.followup);
	ck_assert(isnan(a->meta.age) ? isnan(b->meta.age) : a->meta.age == b->meta.age);
	ck_assert_int_eq(a->meta.sex, b->meta.sex);
	ck_assert_str_eq(a->meta.view, b->meta.view);
}

/* Reads a buffer; returns records read, or -1 - records on error. */
static int read_all(const char *mem, size_t len, int first)
{
	FILE *f = fmemopen((void *)mem, len, "rb");
	if (!len)
		f = fopen("/dev/null", "rb");
	cxr_reader *rd = cxr_reader_open(f, "mem");
	cxr_record r, want;
	cxr_record_init(&r);
	int n = 0, rc;
	while ((rc = cxr_reader_next(rd, &r)) == 1) {
		make_record(&want, first + n);
		assert_same(&r, &want);
		cxr_record_free(&want);
		n++;
	}
	cxr_record_free(&r);
	cxr_reader_close(rd);
	fclose(f);
	return rc < 0 ? -1 - n : n;
}

START_TEST(round_trip)
{
	size_t len;
	char *mem = write_stream(5, 0, 0, &len, NULL);
	ck_assert_int_eq(read_all(mem, len, 0), 5);
	free(mem);
}
END_TEST

START_TEST(empty_stream_is_valid)
{
	size_t len;
	char *mem = write_stream(0, 0, 0, &len, NULL);
	ck_assert_int_eq(read_all(mem, len, 0), 0);
	free(mem);
}
END_TEST

START_TEST(empty_input_is_an_error)
{
	ck_assert_int_eq(read_all("", 0, 0), -1);
	ck_assert_str_eq(cxr_errmsg(), "mem: empty input (not a cxr stream)");
}
END_TEST

START_TEST(concatenated_streams_read_as_one)
{
	size_t l1, l2;
	char *a = write_stream(3, 0, 0, &l1, NULL), *b = write_stream(4, 3, 1, &l2, NULL);
	char *ab = malloc(l1 + l2);
	memcpy(ab, a, l1);
	memcpy(ab + l1, b, l2);
	/* the second carries an index frame, which a plain reader skips */
	ck_assert_int_eq(read_all(ab, l1 + l2, 0), 7);
	free(a), free(b), free(ab);
}
END_TEST

START_TEST(every_truncation_is_an_error)
{
	size_t len;
	char *mem = write_stream(3, 0, 0, &len, NULL);
	for (size_t cut = 0; cut < len; cut++) {
		int rc = read_all(mem, cut, 0);
		ck_assert_msg(rc < 0, "cut at %zu of %zu read as %d records", cut, len, rc);
		ck_assert_msg(strstr(cxr_errmsg(), "truncated") || strstr(cxr_errmsg(), "empty") ||
				      strstr(cxr_errmsg(), "corrupt"),
			      "cut at %zu: %s", cut, cxr_errmsg());
	}
	free(mem);
}
END_TEST

START_TEST(cut_between_records_names_the_record)
{
	/* A writer that dies after two records leaves no end marker. */
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	cxr_writer *w = cxr_writer_open(f, "mem", 3);
	for (int i = 0; i < 2; i++) {
		cxr_record r;
		make_record(&r, i);
		cxr_writer_put(w, &r);
		cxr_record_free(&r);
	}
	fflush(f);
	ck_assert_int_eq(read_all(mem, len, 0), -3);
	ck_assert_str_eq(cxr_errmsg(),
			 "mem: truncated: stream ends after record 2 without its end marker");
	cxr_writer_abort(w);
	fclose(f);
	free(mem);
}
END_TEST

START_TEST(flipped_bytes_are_errors)
{
	size_t len;
	char *mem = write_stream(3, 0, 0, &len, NULL);
	int caught = 0;
	for (size_t at = 0; at < len; at += 7) {
		mem[at] ^= 0x20;
		int rc = read_all(mem, len, 0);
		mem[at] ^= 0x20;
		/* The stream must never yield different data: assert_same in
		 * read_all fails on that; an error is what we expect. */
		caught += rc < 0;
	}
	ck_assert_int_gt(caught, 0);
	free(mem);
}
END_TEST

START_TEST(pack_random_access)
{
	const char *dir = test_tmpdir();
	char path[256];
	snprintf(path, sizeof path, "%s/p.cxp", dir);
	write_stream(9, 0, 1, NULL, path);
	cxr_pack *p = cxr_pack_open(path);
	ck_assert_msg(p != NULL, "%s", cxr_errmsg());
	ck_assert_uint_eq(cxr_pack_count(p), 9);
	cxr_record r, want;
	cxr_record_init(&r);
	int order[] = {8, 0, 4, 4, 1};
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(cxr_pack_get(p, (uint64_t)order[i], &r), 0);
		make_record(&want, order[i]);
		assert_same(&r, &want);
		cxr_record_free(&want);
	}
	ck_assert_int_eq(cxr_pack_get(p, 9, &r), -1);
	cxr_record_free(&r);
	cxr_pack_close(p);
	/* A plain stream has no index. */
	write_stream(2, 0, 0, NULL, path);
	ck_assert_ptr_null(cxr_pack_open(path));
	ck_assert(strstr(cxr_errmsg(), "no seek index"));
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(writer_refuses_bad_shapes)
{
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	cxr_writer *w = cxr_writer_open(f, "mem", 1);
	cxr_record r;
	make_record(&r, 0);
	r.nbytes--;
	ck_assert_int_eq(cxr_writer_put(w, &r), -1);
	r.nbytes++;
	r.dims[1] = 0;
	ck_assert_int_eq(cxr_writer_put(w, &r), -1);
	cxr_record_free(&r);
	cxr_writer_close(w, 0);
	fclose(f);
	free(mem);
}
END_TEST

START_TEST(float_tensors_round_trip)
{
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	cxr_writer *w = cxr_writer_open(f, "mem", 1);
	cxr_record r, back;
	cxr_record_init(&r);
	cxr_record_init(&back);
	r.dtype = CXR_F32, r.ndim = 2, r.dims[0] = 3, r.dims[1] = 5, r.nbytes = 60;
	float v[15];
	for (int i = 0; i < 15; i++)
		v[i] = (float)i / 7 - 1;
	r.data = v;
	ck_assert_int_eq(cxr_writer_put(w, &r), 0);
	cxr_writer_close(w, 0);
	fclose(f);
	f = fmemopen(mem, len, "rb");
	cxr_reader *rd = cxr_reader_open(f, "mem");
	ck_assert_int_eq(cxr_reader_next(rd, &back), 1);
	ck_assert(!memcmp(back.data, v, 60));
	ck_assert_str_eq(back.name, "image");
	ck_assert_int_eq(cxr_reader_next(rd, &back), 0);
	cxr_reader_close(rd);
	cxr_record_free(&back);
	fclose(f);
	free(mem);
}
END_TEST

/* ---- memory follows the bytes that arrive, not lengths in the input ---- */


typedef struct bytes {
	unsigned char *p;
	size_t n;
} bytes;

static void b_put(bytes *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_u8(bytes *b, unsigned v) { unsigned char c = (unsigned char)v; b_put(b, &c, 1); }
static void b_u16(bytes *b, uint32_t v) { unsigned char c[2]; cxr_le_put16(c, v); b_put(b, c, 2); }
static void b_u32(bytes *b, uint32_t v) { unsigned char c[4]; cxr_le_put32(c, v); b_put(b, c, 4); }
static void b_u64(bytes *b, uint64_t v) { unsigned char c[8]; cxr_le_put64(c, v); b_put(b, c, 8); }

/* A stream header chunk, then a record chunk of body length len whose
 * fields say u8 of shape 1 x h x w (dtype 0 when bad), then fill bytes of
 * zeros: a stream cut inside the record. */
static void big_record(bytes *b, uint32_t len, int bad, uint32_t h, uint32_t w, size_t fill)
{
	b_put(b, "CXRS", 4);
	b_u32(b, 8);
	b_u16(b, 1), b_u16(b, 0), b_u32(b, 0);
	b_put(b, "CXRR", 4);
	b_u32(b, len);
	b_u8(b, bad ? 0 : CXR_U8), b_u8(b, 3), b_u8(b, 0), b_u8(b, 1), b_u8(b, 0);
	b_put(b, "\0\0\0", 3);
	b_u32(b, 1), b_u32(b, 0), b_u64(b, 0);
	b_u32(b, 1), b_u32(b, h), b_u32(b, w);
	const char *strs[5] = {"image", "big.png", "", "1", "PA"};
	for (int i = 0; i < 5; i++) {
		b_u16(b, (uint32_t)strlen(strs[i]));
		b_put(b, strs[i], strlen(strs[i]));
	}
	b_u64(b, (uint64_t)h * w);
	unsigned char *z = calloc(1, fill);
	b_put(b, z, fill);
	free(z);
}

/* The bytes as one zstd frame; freed by the caller. */
static char *zframe(const bytes *b, size_t *zn)
{
	size_t cap = ZSTD_compressBound(b->n);
	char *z = malloc(cap);
	*zn = ZSTD_compress(z, cap, b->p, b->n, 1);
	ck_assert(!ZSTD_isError(*zn));
	return z;
}

/* fuzz finding record-255m-cut.cxs: a record chunk of 255 MiB whose
 * header is bad, cut short, was decompressed whole (256 MiB reserved)
 * before its header was looked at. */
START_TEST(record_header_checked_before_tensor)
{
	bytes b = {0};
	big_record(&b, 255u << 20, 1, 1, 1, 512 << 10);
	size_t zn;
	char *z = zframe(&b, &zn);
	int limited = limit_memory(128) == 0;
	ck_assert_int_eq(read_all(z, zn, 0), -1);
	if (limited)
		unlimit_memory();
	ck_assert_msg(strstr(cxr_errmsg(), "mem: record 1: bad record header"), "%s", cxr_errmsg());
	free(z);
	free(b.p);
}
END_TEST

/* A good header for a 256 MiB tensor (the limit) but 64 KiB of it: the
 * tensor's buffer grows with the bytes that arrive. */
START_TEST(tensor_buffer_follows_the_bytes)
{
	bytes b = {0};
	uint32_t h = 16384, w = 16384;
	size_t head = 24 + 12 + 2 + 5 + 2 + 7 + 2 + 0 + 2 + 1 + 2 + 2 + 8;
	big_record(&b, (uint32_t)(head + (size_t)h * w), 0, h, w, 65536);
	size_t zn;
	char *z = zframe(&b, &zn);
	int limited = limit_memory(128) == 0;
	ck_assert_int_eq(read_all(z, zn, 0), -1);
	if (limited)
		unlimit_memory();
	ck_assert_msg(strstr(cxr_errmsg(), "mem: truncated: input ends inside record 1"), "%s",
		      cxr_errmsg());
	free(z);
	free(b.p);
}
END_TEST

/* ---- packs: the index checked without wrapping, both ends at open ---- */

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	unsigned char *p = malloc(*n);
	ck_assert_uint_eq(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

static void spit(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* fuzz finding offset-wrap-4g.cxp: an entry whose offset + size wraps
 * around 2^64 passed the check, and each get allocated 4 GiB. */
START_TEST(pack_index_entry_that_wraps)
{
	const char *dir = test_tmpdir();
	char path[256];
	snprintf(path, sizeof path, "%s/w.cxp", dir);
	write_stream(3, 0, 1, NULL, path);
	size_t n;
	unsigned char *p = slurp(path, &n);
	uint32_t fsize = cxr_le_get32(p + n - 8);
	unsigned char *ix = p + n - fsize + 8; /* "CXRI" */
	size_t body = fsize - 8 - 8 - 4;
	uint64_t off = cxr_le_get64(ix + 16 + 12);
	cxr_le_put64(ix + 16 + 12, 0xffffffff00000000ull + off + 1);
	cxr_le_put32(ix + 16 + 12 + 8, 0xffffffffu);
	cxr_le_put32(ix + body, cxr_crc32c(0, ix, body));
	spit(path, p, n);
	ck_assert_ptr_null(cxr_pack_open(path));
	ck_assert_msg(strstr(cxr_errmsg(), path) && strstr(cxr_errmsg(), "entry 2 points outside"),
		      "%s", cxr_errmsg());
	free(p);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* cxr-train reads a pack through its index only: open checks the stream
 * header and end marker, which no entry covers, as a sequential reader
 * would. */
START_TEST(pack_open_checks_both_ends)
{
	const char *dir = test_tmpdir();
	char path[256], bad[300];
	snprintf(path, sizeof path, "%s/e.cxp", dir);
	snprintf(bad, sizeof bad, "%s/bad.cxp", dir);
	write_stream(3, 0, 1, NULL, path);
	size_t n;
	unsigned char *p = slurp(path, &n);
	uint32_t fsize = cxr_le_get32(p + n - 8);
	size_t index_at = n - fsize;
	/* every byte of the header frame (before record 1 at the index's
	 * first offset) and of the end marker frame (the last 29 bytes
	 * before the index) */
	size_t first = (size_t)cxr_le_get64(p + index_at + 8 + 16);
	ck_assert_uint_gt(first, 8);
	for (size_t at = 0; at < index_at; at++) {
		if (at == first)
			at = index_at - 29;
		p[at] ^= 0x41;
		spit(bad, p, n);
		int seq = read_all((char *)p, n, 0); /* what a sequential reader makes of it */
		p[at] ^= 0x41;
		cxr_pack *pk = cxr_pack_open(bad);
		if (pk) {
			/* only a flip that zstd's frame header ignores, which the
			 * sequential reader takes too (with the same records) */
			ck_assert_msg(seq == 3, "flip at %zu: open accepts what a sequential read refuses",
				      at);
			cxr_record r, want;
			cxr_record_init(&r);
			for (int k = 0; k < 3; k++) {
				ck_assert_int_eq(cxr_pack_get(pk, (uint64_t)k, &r), 0);
				make_record(&want, k);
				assert_same(&r, &want);
				cxr_record_free(&want);
			}
			cxr_record_free(&r);
			cxr_pack_close(pk);
			continue;
		}
		const char *e = cxr_errmsg();
		ck_assert_msg(strstr(e, bad), "flip at %zu: %s", at, e);
		ck_assert_msg(strstr(e, at < first ? "stream header" : "end marker") ||
				      strstr(e, "not a tensor stream"),
			      "flip at %zu: %s", at, e);
	}
	/* a pack of no records: header and end marker both before the index */
	write_stream(0, 0, 1, NULL, path);
	cxr_pack *pk = cxr_pack_open(path);
	ck_assert_msg(pk != NULL, "%s", cxr_errmsg());
	ck_assert_uint_eq(cxr_pack_count(pk), 0);
	cxr_pack_close(pk);
	free(p);
	unlink(path);
	unlink(bad);
	rmdir(dir);
}
END_TEST

/* ---- inputs of another kind are named for what they are ---- */

static void expect_kind(const void *p, size_t n, const char *want)
{
	ck_assert_int_eq(read_all(p, n, 0), -1);
	char full[256];
	snprintf(full, sizeof full, "mem: not a tensor stream (%s)", want);
	ck_assert_str_eq(cxr_errmsg(), full);
}

START_TEST(other_kinds_are_named)
{
	bytes b = {0};
	b_put(&b, "CXRM\1\0\0\0\0\0\0\0\0\0\0\0", 16);
	size_t zn;
	char *z = zframe(&b, &zn);
	expect_kind(z, zn, "it is a model file");
	ck_assert_int_eq(cxr_file_kind(z, zn), CXR_KIND_MODEL);
	free(z);
	free(b.p);
	b = (bytes){0};
	void *zeros = calloc(1, 1 << 20);
	b_put(&b, zeros, 1 << 20); /* a small zstd bomb */
	free(zeros);
	z = zframe(&b, &zn);
	expect_kind(z, zn, "it is zstd-compressed, but not by the cxr tools");
	free(z);
	free(b.p);
	expect_kind("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "it is a PNG image");
	expect_kind("\x1f\x8b\x08\0\0\0\0\0\0\3", 10, "it is gzip-compressed");
	expect_kind("image\tlabel\n", 12, "it is text");
	expect_kind("\0\1\2\3\4\5\6\7", 8, "it is not zstd-compressed");
	/* a stream's own first bytes */
	size_t len;
	char *mem = write_stream(1, 0, 0, &len, NULL);
	ck_assert_int_eq(cxr_file_kind(mem, len), CXR_KIND_STREAM);
	free(mem);
	/* a model given where a pack is wanted */
	const char *dir = test_tmpdir();
	char path[256];
	snprintf(path, sizeof path, "%s/m.cxm", dir);
	b = (bytes){0};
	b_put(&b, "CXRM\1\0\0\0\0\0\0\0\0\0\0\0", 16);
	z = zframe(&b, &zn);
	spit(path, z, zn);
	ck_assert_ptr_null(cxr_pack_open(path));
	ck_assert_msg(strstr(cxr_errmsg(), "m.cxm: not a tensor stream (it is a model file)"), "%s",
		      cxr_errmsg());
	free(z);
	free(b.p);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- a writer that fails ends no stream ---- */

START_TEST(aborted_writer_writes_no_end_marker)
{
	char *mem = NULL;
	size_t len;
	FILE *f = open_memstream(&mem, &len);
	cxr_writer *w = cxr_writer_open(f, "mem", 3);
	for (int i = 0; i < 2; i++) {
		cxr_record r;
		make_record(&r, i);
		ck_assert_int_eq(cxr_writer_put(w, &r), 0);
		cxr_record_free(&r);
	}
	cxr_writer_abort(w);
	cxr_writer_abort(NULL);
	fflush(f);
	ck_assert_int_eq(read_all(mem, len, 0), -3);
	ck_assert_str_eq(cxr_errmsg(),
			 "mem: truncated: stream ends after record 2 without its end marker");
	fclose(f);
	free(mem);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_stream_is_valid);
	tcase_add_test(tc, empty_input_is_an_error);
	tcase_add_test(tc, concatenated_streams_read_as_one);
	tcase_add_test(tc, every_truncation_is_an_error);
	tcase_add_test(tc, cut_between_records_names_the_record);
	tcase_add_test(tc, flipped_bytes_are_errors);
	tcase_add_test(tc, pack_random_access);
	tcase_add_test(tc, writer_refuses_bad_shapes);
	tcase_add_test(tc, float_tensors_round_trip);
	tcase_add_test(tc, record_header_checked_before_tensor);
	tcase_add_test(tc, tensor_buffer_follows_the_bytes);
	tcase_add_test(tc, pack_index_entry_that_wraps);
	tcase_add_test(tc, pack_open_checks_both_ends);
	tcase_add_test(tc, other_kinds_are_named);
	tcase_add_test(tc, aborted_writer_writes_no_end_marker);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
