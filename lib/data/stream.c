/* stream — the tensor stream; the byte layout is man/cxr-stream.5.
 *
 * The decompressed content is a sequence of chunks, each a 4-byte tag, a
 * u32 body length and the body: a stream header "CXRS", records "CXRR",
 * and an end marker "CXRE" with the record count. Every chunk is its own
 * zstd frame with a content checksum, so a damaged record is caught by
 * its frame's checksum and named, and a pack's index can point at any
 * record's frame. A reader never needs to know where frames end: it feeds
 * the bytes through one streaming decoder, which also skips the index
 * (a zstd skippable frame) and joins concatenated streams. */
#include "data/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cli.h"
#include "base/crc32c.h"
#include "base/le.h"

#define TAG_STREAM "CXRS"
#define TAG_RECORD "CXRR"
#define TAG_END "CXRE"
#define STREAM_VERSION 1
#define FILTER_NONE 0
#define FILTER_DELTA 1 /* u8 only: each row's left-neighbour difference */
#define INDEX_MAGIC 0x184D2A5Cu /* a zstd skippable frame */
#define INDEX_TAG "CXRI"
#define FOOTER_TAG "CXRX"
#define INDEX_VERSION 1
/* A record body is the tensor plus at most 5 strings and fixed fields. */
#define MAX_CHUNK (CXR_MAX_TENSOR_BYTES + 5 * (CXR_MAX_STRING + 2) + 256)

/* ---- little-endian buffers ---- */

typedef struct buf {
	unsigned char *p;
	size_t n, cap;
} buf;

static void buf_reserve(buf *b, size_t extra)
{
	if (b->n + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + extra)
		cap *= 2;
	b->p = cxr_xrealloc(b->p, cap);
	b->cap = cap;
}

static void put_bytes(buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u8(buf *b, unsigned v) { unsigned char c = (unsigned char)v; put_bytes(b, &c, 1); }

static void put_u16(buf *b, uint32_t v)
{
	unsigned char c[2];
	cxr_le_put16(c, v);
	put_bytes(b, c, 2);
}

static void put_u32(buf *b, uint32_t v)
{
	unsigned char c[4];
	cxr_le_put32(c, v);
	put_bytes(b, c, 4);
}

static void put_u64(buf *b, uint64_t v)
{
	unsigned char c[8];
	cxr_le_put64(c, v);
	put_bytes(b, c, 8);
}

static void put_f64(buf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(b, v);
}

static void put_str(buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > CXR_MAX_STRING)
		n = CXR_MAX_STRING;
	put_u16(b, (uint32_t)n);
	put_bytes(b, s, n);
}

static char *take_str(cxr_le_cursor *c)
{
	uint32_t n = cxr_le_take_u16(c);
	const unsigned char *p = n <= CXR_MAX_STRING ? cxr_le_take(c, n) : (c->bad = 1, NULL);
	if (!p)
		return NULL;
	char *s = cxr_xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* ---- records ---- */

void cxr_record_init(cxr_record *r)
{
	memset(r, 0, sizeof *r);
	cxr_sample_init(&r->meta);
}

void cxr_record_free(cxr_record *r)
{
	free(r->name);
	free(r->data);
	cxr_sample_free(&r->meta);
	cxr_record_init(r);
}

size_t cxr_dtype_size(int dtype)
{
	switch (dtype) {
	case CXR_U8: return 1;
	case CXR_U16: return 2;
	case CXR_F32: return 4;
	default: return 0;
	}
}

const char *cxr_dtype_name(int dtype)
{
	switch (dtype) {
	case CXR_U8: return "u8";
	case CXR_U16: return "u16";
	case CXR_F32: return "f32";
	default: return "?";
	}
}

void cxr_shape_str(const cxr_record *r, char *out, size_t n)
{
	size_t k = 0;
	out[0] = 0;
	for (int i = 0; i < r->ndim && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, i ? "x%u" : "%u", r->dims[i]);
}

int cxr_record_is_gray(const cxr_record *r, int h, int w, int flat, char *why, size_t n)
{
	int hw = r->ndim - 2; /* where H is */
	int gray = r->dtype == CXR_U8 &&
		   ((r->ndim == 3 && r->dims[0] == 1) || (flat && r->ndim == 2)) &&
		   (h <= 0 || r->dims[hw] == (uint32_t)h) &&
		   (w <= 0 || r->dims[hw + 1] == (uint32_t)w);
	if (!gray && why && n) {
		char s[64];
		cxr_shape_str(r, s, sizeof s);
		snprintf(why, n, "%s %s", cxr_dtype_name(r->dtype), s);
	}
	return gray;
}

/* Bytes of a tensor of this shape, or 0 if the shape is invalid or over
 * the limit (checked before anything is allocated). */
static size_t tensor_bytes(int dtype, int ndim, const uint32_t *dims)
{
	size_t n = cxr_dtype_size(dtype);
	if (!n || ndim < 1 || ndim > CXR_MAX_DIMS)
		return 0;
	for (int i = 0; i < ndim; i++) {
		if (!dims[i] || n > CXR_MAX_TENSOR_BYTES / dims[i])
			return 0;
		n *= dims[i];
	}
	return n;
}

/* Row length for the delta filter: the last dimension. */
static void delta_encode(unsigned char *dst, const unsigned char *src, size_t n, size_t row)
{
	for (size_t i = 0; i < n; i += row) {
		dst[i] = src[i];
		for (size_t j = 1; j < row; j++)
			dst[i + j] = (unsigned char)(src[i + j] - src[i + j - 1]);
	}
}

static void delta_decode(unsigned char *p, size_t n, size_t row)
{
	for (size_t i = 0; i < n; i += row)
		for (size_t j = 1; j < row; j++)
			p[i + j] = (unsigned char)(p[i + j] + p[i + j - 1]);
}

/* ---- writer ---- */

struct cxr_writer {
	FILE *f;
	char *path;
	ZSTD_CCtx *cctx;
	buf chunk, frame;
	uint64_t count;   /* records since the stream header */
	uint64_t offset;  /* bytes written */
	uint64_t *offsets; /* frame offset of each record, for the index */
	uint32_t *sizes;
	size_t cap;
};

static int write_frame(cxr_writer *w, const char *tag)
{
	cxr_le_put32(w->chunk.p + 4, (uint32_t)(w->chunk.n - 8));
	memcpy(w->chunk.p, tag, 4);
	size_t bound = ZSTD_compressBound(w->chunk.n);
	w->frame.n = 0;
	buf_reserve(&w->frame, bound);
	size_t z = ZSTD_compress2(w->cctx, w->frame.p, bound, w->chunk.p, w->chunk.n);
	if (ZSTD_isError(z)) {
		cxr_seterr("%s: compression failed: %s", w->path, ZSTD_getErrorName(z));
		return -1;
	}
	if (fwrite(w->frame.p, 1, z, w->f) != z) {
		cxr_seterr("%s: write error: %s", w->path, strerror(errno));
		return -1;
	}
	w->frame.n = z;
	w->offset += z;
	return 0;
}

static void chunk_begin(cxr_writer *w)
{
	w->chunk.n = 0;
	put_bytes(&w->chunk, "\0\0\0\0\0\0\0\0", 8); /* tag and length, set later */
}

cxr_writer *cxr_writer_open(FILE *f, const char *path, int level)
{
	cxr_writer *w = cxr_xcalloc(1, sizeof *w);
	w->f = f;
	w->path = cxr_xstrdup(path ? path : "stdout");
	w->cctx = ZSTD_createCCtx();
	if (!w->cctx)
		cxr_die(CXR_EXIT_DATA, "out of memory");
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
	chunk_begin(w);
	put_u16(&w->chunk, STREAM_VERSION);
	put_u16(&w->chunk, 0);
	put_u32(&w->chunk, 0);
	if (write_frame(w, TAG_STREAM)) {
		ZSTD_freeCCtx(w->cctx);
		free(w->path);
		free(w);
		return NULL;
	}
	return w;
}

int cxr_writer_put(cxr_writer *w, const cxr_record *r)
{
	size_t nbytes = tensor_bytes(r->dtype, r->ndim, r->dims);
	if (!nbytes || nbytes != r->nbytes) {
		cxr_seterr("%s: record %llu (%s): bad tensor shape or size", w->path,
			   (unsigned long long)w->count + 1, r->meta.image ? r->meta.image : "?");
		return -1;
	}
	const cxr_sample *m = &r->meta;
	int filter = r->dtype == CXR_U8 ? FILTER_DELTA : FILTER_NONE;
	chunk_begin(w);
	put_u8(&w->chunk, (unsigned)r->dtype);
	put_u8(&w->chunk, (unsigned)r->ndim);
	put_u8(&w->chunk, (unsigned)filter);
	put_u8(&w->chunk, m->label == 0 || m->label == 1 ? (unsigned)m->label : 0xff);
	put_u8(&w->chunk, m->sex == CXR_SEX_M || m->sex == CXR_SEX_F ? (unsigned)m->sex : 0);
	put_bytes(&w->chunk, "\0\0\0", 3);
	put_u32(&w->chunk, m->followup >= 0 ? (uint32_t)m->followup : 0xffffffffu);
	put_u32(&w->chunk, 0);
	put_f64(&w->chunk, m->age);
	for (int i = 0; i < r->ndim; i++)
		put_u32(&w->chunk, r->dims[i]);
	put_str(&w->chunk, r->name ? r->name : "image");
	put_str(&w->chunk, m->image);
	put_str(&w->chunk, m->findings);
	put_str(&w->chunk, m->patient);
	put_str(&w->chunk, m->view);
	put_u64(&w->chunk, nbytes);
	buf_reserve(&w->chunk, nbytes);
	if (filter == FILTER_DELTA)
		delta_encode(w->chunk.p + w->chunk.n, r->data, nbytes, r->dims[r->ndim - 1]);
	else
		memcpy(w->chunk.p + w->chunk.n, r->data, nbytes);
	w->chunk.n += nbytes;
	uint64_t at = w->offset;
	if (write_frame(w, TAG_RECORD))
		return -1;
	if (w->count == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->offsets = cxr_xrealloc(w->offsets, w->cap * sizeof *w->offsets);
		w->sizes = cxr_xrealloc(w->sizes, w->cap * sizeof *w->sizes);
	}
	w->offsets[w->count] = at;
	w->sizes[w->count] = (uint32_t)w->frame.n;
	w->count++;
	return 0;
}

uint64_t cxr_writer_count(const cxr_writer *w) { return w->count; }

/* The index: a skippable frame holding "CXRI", version, count, then per
 * record its frame's offset (u64) and compressed size (u32), the CRC-32C
 * of all that, and last a footer "frame size, CXRX" so a reader finds the
 * index from the end of the file. */
static int write_index(cxr_writer *w)
{
	buf b = {0};
	put_bytes(&b, INDEX_TAG, 4);
	put_u32(&b, INDEX_VERSION);
	put_u64(&b, w->count);
	for (uint64_t i = 0; i < w->count; i++) {
		put_u64(&b, w->offsets[i]);
		put_u32(&b, w->sizes[i]);
	}
	put_u32(&b, cxr_crc32c(0, b.p, b.n));
	uint32_t frame_size = (uint32_t)(b.n + 8 + 8);
	put_u32(&b, frame_size);
	put_bytes(&b, FOOTER_TAG, 4);
	buf head = {0};
	put_u32(&head, INDEX_MAGIC);
	put_u32(&head, (uint32_t)b.n);
	int rc = 0;
	if (fwrite(head.p, 1, head.n, w->f) != head.n || fwrite(b.p, 1, b.n, w->f) != b.n) {
		cxr_seterr("%s: write error: %s", w->path, strerror(errno));
		rc = -1;
	}
	free(head.p);
	free(b.p);
	return rc;
}

int cxr_writer_close(cxr_writer *w, int index)
{
	chunk_begin(w);
	put_u64(&w->chunk, w->count);
	int rc = write_frame(w, TAG_END);
	if (!rc && index)
		rc = write_index(w);
	if (!rc && fflush(w->f)) {
		cxr_seterr("%s: write error: %s", w->path, strerror(errno));
		rc = -1;
	}
	ZSTD_freeCCtx(w->cctx);
	free(w->chunk.p);
	free(w->frame.p);
	free(w->offsets);
	free(w->sizes);
	free(w->path);
	free(w);
	return rc;
}

/* ---- parsing a record chunk (shared by the reader and the pack) ---- */

/* Fills r from a record body. where: "file: record N" for messages. */
static int parse_record(const unsigned char *body, size_t n, cxr_record *r, const char *where)
{
	cxr_le_cursor c = {body, 0, n, 0};
	void *keep = r->data;
	size_t keep_n = r->nbytes;
	r->data = NULL;
	cxr_record_free(r);
	int dtype = (int)cxr_le_take_u8(&c), ndim = (int)cxr_le_take_u8(&c);
	int filter = (int)cxr_le_take_u8(&c);
	unsigned label = cxr_le_take_u8(&c), sex = cxr_le_take_u8(&c);
	cxr_le_take(&c, 3);
	uint32_t fu = cxr_le_take_u32(&c);
	cxr_le_take_u32(&c);
	uint64_t agebits = cxr_le_take_u64(&c);
	if (c.bad || ndim < 1 || ndim > CXR_MAX_DIMS || !cxr_dtype_size(dtype) || filter > 1 ||
	    (filter == FILTER_DELTA && dtype != CXR_U8)) {
		cxr_seterr("%s: bad record header (dtype %d, %d dimensions)", where, dtype, ndim);
		goto fail;
	}
	r->dtype = dtype;
	r->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		r->dims[i] = cxr_le_take_u32(&c);
	r->name = take_str(&c);
	r->meta.image = take_str(&c);
	r->meta.findings = take_str(&c);
	r->meta.patient = take_str(&c);
	r->meta.view = take_str(&c);
	uint64_t nbytes = cxr_le_take_u64(&c);
	size_t want = tensor_bytes(dtype, ndim, r->dims);
	if (c.bad) {
		cxr_seterr("%s: record is cut short", where);
		goto fail;
	}
	if (!want || nbytes != want || cxr_le_left(&c) != want) {
		cxr_seterr("%s (%s): tensor of %llu bytes does not match its shape", where,
			   r->meta.image, (unsigned long long)nbytes);
		goto fail;
	}
	r->meta.label = label == 0 || label == 1 ? (int)label : CXR_LABEL_UNKNOWN;
	r->meta.sex = sex == CXR_SEX_M || sex == CXR_SEX_F ? (int)sex : CXR_SEX_UNKNOWN;
	r->meta.followup = fu == 0xffffffffu ? -1 : (int)fu;
	memcpy(&r->meta.age, &agebits, 8);
	r->data = keep_n == want ? keep : (free(keep), cxr_xmalloc(want));
	keep = NULL;
	r->nbytes = want;
	memcpy(r->data, c.p + c.pos, want);
	if (filter == FILTER_DELTA)
		delta_decode(r->data, want, r->dims[ndim - 1]);
	return 0;
fail:
	free(keep);
	cxr_record_free(r);
	return -1;
}

/* ---- sequential reader ---- */

struct cxr_reader {
	FILE *f;
	char *path;
	ZSTD_DCtx *dctx;
	unsigned char *in;
	ZSTD_inBuffer zin;
	size_t in_cap;
	buf out;          /* decompressed bytes not yet consumed, from out.p */
	size_t frame_left; /* last ZSTD_decompressStream hint: 0 at a frame end */
	int eof;
	int in_stream;    /* between a stream header and its end marker */
	int seen_stream;
	uint64_t count, total;
};

cxr_reader *cxr_reader_open(FILE *f, const char *path)
{
	cxr_reader *rd = cxr_xcalloc(1, sizeof *rd);
	rd->f = f;
	rd->path = cxr_xstrdup(cxr_name(path));
	rd->dctx = ZSTD_createDCtx();
	rd->in_cap = ZSTD_DStreamInSize();
	rd->in = cxr_xmalloc(rd->in_cap);
	rd->zin.src = rd->in;
	if (!rd->dctx)
		cxr_die(CXR_EXIT_DATA, "out of memory");
	/* Refuse frames whose window would need more memory than a record. */
	ZSTD_DCtx_setParameter(rd->dctx, ZSTD_d_windowLogMax, 29);
	return rd;
}

uint64_t cxr_reader_count(const cxr_reader *rd) { return rd->total; }

/* Decompresses until rd->out holds at least want bytes. Returns 1 when it
 * does, 0 at end of input on a frame boundary, -1 on error. */
static int fill(cxr_reader *rd, size_t want)
{
	while (rd->out.n < want) {
		if (rd->zin.pos == rd->zin.size) {
			if (rd->eof)
				goto at_end;
			/* read(2) where there is a descriptor, not fread: take
			 * what the pipe holds now instead of waiting for a full
			 * buffer, so a slow writer's records are decoded (and
			 * scored) as they arrive. */
			int fd = fileno(rd->f);
			ssize_t got = fd >= 0 ? read(fd, rd->in, rd->in_cap)
					      : (ssize_t)fread(rd->in, 1, rd->in_cap, rd->f);
			if (got < 0 && errno == EINTR && !cxr_stop_signal)
				continue;
			if (got <= 0) {
				if (got < 0 || (fd < 0 && ferror(rd->f))) {
					cxr_seterr("%s: read error after record %llu: %s", rd->path,
						   (unsigned long long)rd->total, strerror(errno));
					return -1;
				}
				rd->eof = 1;
				goto at_end;
			}
			rd->zin.size = (size_t)got;
			rd->zin.pos = 0;
		}
		size_t room = want - rd->out.n;
		if (room < 65536)
			room = 65536;
		buf_reserve(&rd->out, room);
		ZSTD_outBuffer zout = {rd->out.p, rd->out.cap, rd->out.n};
		size_t z = ZSTD_decompressStream(rd->dctx, &zout, &rd->zin);
		if (ZSTD_isError(z)) {
			cxr_seterr("%s: record %llu: corrupt data (%s)", rd->path,
				   (unsigned long long)rd->total + 1, ZSTD_getErrorName(z));
			return -1;
		}
		rd->out.n = zout.pos;
		rd->frame_left = z;
	}
	return 1;
at_end:
	if (rd->frame_left || rd->out.n) {
		cxr_seterr("%s: truncated: input ends inside record %llu", rd->path,
			   (unsigned long long)rd->total + 1);
		return -1;
	}
	return 0;
}

static void consume(cxr_reader *rd, size_t n)
{
	memmove(rd->out.p, rd->out.p + n, rd->out.n - n);
	rd->out.n -= n;
}

int cxr_reader_next(cxr_reader *rd, cxr_record *r)
{
	char where[1200];
	for (;;) {
		int got = fill(rd, 8);
		if (got < 0)
			return -1;
		if (!got) {
			if (rd->in_stream) {
				cxr_seterr("%s: truncated: stream ends after record %llu without its end marker",
					   rd->path, (unsigned long long)rd->total);
				return -1;
			}
			if (!rd->seen_stream) {
				cxr_seterr("%s: empty input (not a cxr stream)", rd->path);
				return -1;
			}
			return 0;
		}
		const unsigned char *h = rd->out.p;
		uint32_t len = cxr_le_get32(h + 4);
		snprintf(where, sizeof where, "%s: record %llu", rd->path,
			 (unsigned long long)rd->total + 1);
		if (memcmp(h, TAG_STREAM, 4) && memcmp(h, TAG_RECORD, 4) && memcmp(h, TAG_END, 4)) {
			cxr_seterr(rd->seen_stream ? "%s: bad chunk tag" : "%s: not a cxr stream (bad magic)",
				   rd->seen_stream ? where : rd->path);
			return -1;
		}
		if (len > MAX_CHUNK) {
			cxr_seterr("%s: length %u exceeds the limit", where, len);
			return -1;
		}
		got = fill(rd, 8 + (size_t)len);
		if (got <= 0) {
			if (!got)
				cxr_seterr("%s: truncated: input ends inside record %llu", rd->path,
					   (unsigned long long)rd->total + 1);
			return -1;
		}
		h = rd->out.p;
		const unsigned char *body = h + 8;
		if (!memcmp(h, TAG_STREAM, 4)) {
			if (rd->in_stream) {
				cxr_seterr("%s: stream header inside a stream", where);
				return -1;
			}
			if (len < 2 || (body[0] | body[1] << 8) != STREAM_VERSION) {
				cxr_seterr("%s: unsupported stream version %u (this is version %d)",
					   rd->path, len < 2 ? 0 : body[0] | body[1] << 8, STREAM_VERSION);
				return -1;
			}
			rd->in_stream = rd->seen_stream = 1;
			rd->count = 0;
			consume(rd, 8 + len);
			continue;
		}
		if (!rd->in_stream) {
			cxr_seterr("%s: data after the end marker without a stream header", where);
			return -1;
		}
		if (!memcmp(h, TAG_END, 4)) {
			uint64_t n = len >= 8 ? cxr_le_get64(body) : ~0ull;
			if (n != rd->count) {
				cxr_seterr("%s: end marker counts %llu records, the stream holds %llu",
					   rd->path, (unsigned long long)n, (unsigned long long)rd->count);
				return -1;
			}
			rd->in_stream = 0;
			consume(rd, 8 + len);
			continue;
		}
		if (parse_record(body, len, r, where))
			return -1;
		consume(rd, 8 + len);
		rd->count++;
		rd->total++;
		return 1;
	}
}

void cxr_reader_close(cxr_reader *rd)
{
	if (!rd)
		return;
	ZSTD_freeDCtx(rd->dctx);
	free(rd->in);
	free(rd->out.p);
	free(rd->path);
	free(rd);
}

/* ---- packed files: random access through the index ---- */

struct cxr_pack {
	int fd;
	char *path;
	uint64_t count;
	uint64_t *offsets;
	uint32_t *sizes;
};

static int pread_all(int fd, void *p, size_t n, off_t at)
{
	while (n) {
		ssize_t got = pread(fd, p, n, at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p = (char *)p + got;
		n -= (size_t)got;
		at += got;
	}
	return 0;
}

cxr_pack *cxr_pack_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return NULL;
	}
	cxr_pack *p = cxr_xcalloc(1, sizeof *p);
	p->fd = fd;
	p->path = cxr_xstrdup(path);
	unsigned char foot[8], *ix = NULL;
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 16 || pread_all(fd, foot, 8, st.st_size - 8) ||
	    memcmp(foot + 4, FOOTER_TAG, 4)) {
		cxr_seterr("%s: no seek index (not written by cxr-pack?)", path);
		goto fail;
	}
	uint32_t fsize = cxr_le_get32(foot);
	if (fsize < 36 || fsize > (uint64_t)st.st_size) {
		cxr_seterr("%s: bad seek index size", path);
		goto fail;
	}
	ix = cxr_xmalloc(fsize);
	if (pread_all(fd, ix, fsize, st.st_size - fsize) || cxr_le_get32(ix) != INDEX_MAGIC ||
	    cxr_le_get32(ix + 4) != fsize - 8 || memcmp(ix + 8, INDEX_TAG, 4)) {
		cxr_seterr("%s: bad seek index", path);
		goto fail;
	}
	const unsigned char *b = ix + 8;
	uint64_t count = cxr_le_get64(b + 8);
	size_t body = (size_t)fsize - 8 - 8 - 4; /* less frame header, footer, crc */
	if (cxr_le_get32(b + 4) != INDEX_VERSION || count > (body - 16) / 12 ||
	    16 + count * 12 != body) {
		cxr_seterr("%s: bad seek index (version or count)", path);
		goto fail;
	}
	if (cxr_crc32c(0, b, body) != cxr_le_get32(b + body)) {
		cxr_seterr("%s: seek index checksum mismatch", path);
		goto fail;
	}
	p->count = count;
	p->offsets = cxr_xmalloc((count ? count : 1) * sizeof *p->offsets);
	p->sizes = cxr_xmalloc((count ? count : 1) * sizeof *p->sizes);
	for (uint64_t i = 0; i < count; i++) {
		p->offsets[i] = cxr_le_get64(b + 16 + 12 * i);
		p->sizes[i] = cxr_le_get32(b + 16 + 12 * i + 8);
		if (p->offsets[i] + p->sizes[i] > (uint64_t)st.st_size - fsize) {
			cxr_seterr("%s: seek index entry %llu points outside the file", path,
				   (unsigned long long)i + 1);
			goto fail;
		}
	}
	free(ix);
	return p;
fail:
	free(ix);
	cxr_pack_close(p);
	return NULL;
}

uint64_t cxr_pack_count(const cxr_pack *p) { return p->count; }

int cxr_pack_get(cxr_pack *p, uint64_t k, cxr_record *r)
{
	char where[1200];
	snprintf(where, sizeof where, "%s: record %llu", p->path, (unsigned long long)k + 1);
	if (k >= p->count) {
		cxr_seterr("%s: out of range (the pack holds %llu)", where,
			   (unsigned long long)p->count);
		return -1;
	}
	size_t csize = p->sizes[k];
	unsigned char *z = cxr_alloc_array(csize, 1), *raw = NULL;
	int rc = -1;
	if (!z)
		return -1;
	if (pread_all(p->fd, z, csize, (off_t)p->offsets[k])) {
		cxr_seterr("%s: read error: %s", where, errno ? strerror(errno) : "short read");
		goto out;
	}
	unsigned long long n = ZSTD_getFrameContentSize(z, csize);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n < 8 ||
	    n > MAX_CHUNK + 8) {
		cxr_seterr("%s: corrupt frame header", where);
		goto out;
	}
	raw = cxr_xmalloc(n);
	size_t got = ZSTD_decompress(raw, n, z, csize);
	if (ZSTD_isError(got) || got != n) {
		cxr_seterr("%s: corrupt data (%s)", where,
			   ZSTD_isError(got) ? ZSTD_getErrorName(got) : "size mismatch");
		goto out;
	}
	if (memcmp(raw, TAG_RECORD, 4) || cxr_le_get32(raw + 4) != n - 8) {
		cxr_seterr("%s: index does not point at a record", where);
		goto out;
	}
	rc = parse_record(raw + 8, n - 8, r, where);
out:
	free(z);
	free(raw);
	return rc;
}

void cxr_pack_close(cxr_pack *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p->offsets);
	free(p->sizes);
	free(p->path);
	free(p);
}
