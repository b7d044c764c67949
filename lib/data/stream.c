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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "base/cli.h"
#include "base/crc32c.h"
#include "base/le.h"
#include "data/file_kind.h"

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

static void writer_free(cxr_writer *w)
{
	ZSTD_freeCCtx(w->cctx);
	free(w->chunk.p);
	free(w->frame.p);
	free(w->offsets);
	free(w->sizes);
	free(w->path);
	free(w);
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
	writer_free(w);
	return rc;
}

void cxr_writer_abort(cxr_writer *w)
{
	if (w)
		writer_free(w);
}

/* ---- a record's fields before its tensor ---- */

/* The most bytes a record's fields before the data can take: the fixed
 * part, the dimensions, five strings at their longest and nbytes. */
#define MAX_HEAD (24 + 4 * CXR_MAX_DIMS + 5 * (2 + CXR_MAX_STRING) + 8)
#define FIRST_HEAD 1024

/* Parses the fields before the data of a record body of len bytes from
 * its first n bytes into r, whose data the caller has taken off. Checks
 * the shape against the limits and that the body ends where the tensor
 * does, before anything is allocated for the tensor. Sets *head (the
 * fields' length), *nbytes and *filter. 0; 1 when the fields run past n
 * bytes, n < len (call again with more); -1 with the error set and r
 * freed. where: "file: record N". */
static int parse_head(const unsigned char *body, size_t n, size_t len, cxr_record *r,
		      const char *where, size_t *head, size_t *nbytes, int *filter)
{
	cxr_le_cursor c = {body, 0, n, 0};
	cxr_record_free(r);
	int dtype = (int)cxr_le_take_u8(&c), ndim = (int)cxr_le_take_u8(&c);
	int filt = (int)cxr_le_take_u8(&c);
	unsigned label = cxr_le_take_u8(&c), sex = cxr_le_take_u8(&c);
	cxr_le_take(&c, 3);
	uint32_t fu = cxr_le_take_u32(&c);
	cxr_le_take_u32(&c);
	uint64_t agebits = cxr_le_take_u64(&c);
	if (c.bad || ndim < 1 || ndim > CXR_MAX_DIMS || !cxr_dtype_size(dtype) || filt > 1 ||
	    (filt == FILTER_DELTA && dtype != CXR_U8)) {
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
	uint64_t nb = cxr_le_take_u64(&c);
	size_t want = tensor_bytes(dtype, ndim, r->dims);
	if (c.bad && n < len) {
		cxr_record_free(r);
		return 1;
	}
	if (c.bad) {
		cxr_seterr("%s: record is cut short", where);
		goto fail;
	}
	if (!want || nb != want || len - c.pos != want) {
		cxr_seterr("%s (%s): tensor of %llu bytes does not match its shape", where,
			   r->meta.image, (unsigned long long)nb);
		goto fail;
	}
	r->meta.label = label == 0 || label == 1 ? (int)label : CXR_LABEL_UNKNOWN;
	r->meta.sex = sex == CXR_SEX_M || sex == CXR_SEX_F ? (int)sex : CXR_SEX_UNKNOWN;
	r->meta.followup = fu == 0xffffffffu ? -1 : (int)fu;
	memcpy(&r->meta.age, &agebits, 8);
	*head = c.pos;
	*nbytes = want;
	*filter = filt;
	return 0;
fail:
	cxr_record_free(r);
	return -1;
}

/* ---- reading: the sequential reader, and regions of a pack ---- */

/* Decompressed bytes asked of the decoder at a time, at least. */
#define MIN_ROOM 16384
/* A tensor's buffer starts at this size (or the tensor's, if smaller)
 * and doubles as its bytes arrive. */
#define DATA_STEP 65536

/* One reader for both: a stream read from f from its start, or a region
 * [at, end) of a pack read with pread (f NULL), which holds one record, or
 * a stream header, or an end marker. */
struct cxr_reader {
	FILE *f;
	int fd;            /* region: the pack's descriptor */
	uint64_t at, end;  /* region: the next offset to read, and where to stop */
	char *path;        /* owned by a sequential reader, the pack's for a region */
	const char *what;  /* region: what it holds, for messages; NULL: records */
	ZSTD_DCtx *dctx;
	unsigned char *in;
	ZSTD_inBuffer zin;
	size_t in_cap;
	buf out;          /* decompressed bytes not yet consumed, from out.p */
	size_t frame_left; /* last ZSTD_decompressStream hint: 0 at a frame end */
	int eof;
	int started;      /* the first bytes of the input have been looked at */
	int in_stream;    /* between a stream header and its end marker */
	int seen_stream;
	uint64_t count, total;
};

static ZSTD_DCtx *new_dctx(void)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		cxr_die(CXR_EXIT_DATA, "out of memory");
	/* Refuse frames whose window would reserve more than 128 MiB before
	 * any content arrives. zstd levels 1-19 use windows of at most 8 MiB
	 * (a frame's window is never more than its level's, whatever its
	 * content size), so no cxr writer, nor the zstd tool short of
	 * --ultra or --long, comes near it. */
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
	return d;
}

cxr_reader *cxr_reader_open(FILE *f, const char *path)
{
	cxr_reader *rd = cxr_xcalloc(1, sizeof *rd);
	rd->f = f;
	rd->fd = -1;
	rd->path = cxr_xstrdup(cxr_name(path));
	rd->dctx = new_dctx();
	rd->in_cap = ZSTD_DStreamInSize();
	rd->in = cxr_xmalloc(rd->in_cap);
	rd->zin.src = rd->in;
	return rd;
}

uint64_t cxr_reader_count(const cxr_reader *rd) { return rd->total; }

/* "file: record N" or, in a region of a pack, "file: stream header". */
static const char *at_what(const cxr_reader *rd, char *b, size_t n)
{
	if (rd->what)
		snprintf(b, n, "%s: %s", rd->path, rd->what);
	else
		snprintf(b, n, "%s: record %llu", rd->path, (unsigned long long)rd->total + 1);
	return b;
}

static void truncated(const cxr_reader *rd)
{
	if (rd->what)
		cxr_seterr("%s: %s: truncated", rd->path, rd->what);
	else
		cxr_seterr("%s: truncated: input ends inside record %llu", rd->path,
			   (unsigned long long)rd->total + 1);
}

/* Reads the next input into rd->in: 1, 0 at its end, -1 on error. The
 * first read gathers 8 bytes (or all there are) to check that the input
 * is zstd at all, and if not, says what it is. */
static int read_more(cxr_reader *rd)
{
	size_t have = 0;
	for (;;) {
		ssize_t got;
		if (!rd->f) {
			size_t n = rd->in_cap - have;
			if (rd->end - rd->at < n)
				n = (size_t)(rd->end - rd->at);
			got = n ? pread(rd->fd, rd->in + have, n, (off_t)rd->at) : 0;
			if (got > 0)
				rd->at += (uint64_t)got;
		} else {
			/* read(2) where there is a descriptor, not fread: take
			 * what the pipe holds now instead of waiting for a full
			 * buffer, so a slow writer's records are decoded (and
			 * scored) as they arrive. */
			int fd = fileno(rd->f);
			got = fd >= 0 ? read(fd, rd->in + have, rd->in_cap - have)
				      : (ssize_t)fread(rd->in + have, 1, rd->in_cap - have, rd->f);
			if (!got && fd < 0 && ferror(rd->f))
				got = -1;
		}
		if (got < 0 && errno == EINTR && !cxr_stop_signal)
			continue;
		if (got < 0) {
			char w[1200];
			if (rd->what)
				cxr_seterr("%s: read error: %s", at_what(rd, w, sizeof w),
					   strerror(errno));
			else
				cxr_seterr("%s: read error after record %llu: %s", rd->path,
					   (unsigned long long)rd->total, strerror(errno));
			return -1;
		}
		if (!got) {
			rd->eof = 1;
			break;
		}
		have += (size_t)got;
		if (rd->started || have >= 8)
			break;
	}
	rd->zin.size = have;
	rd->zin.pos = 0;
	if (!rd->started) {
		rd->started = 1;
		if (have && !cxr_is_zstd_start(rd->in, have)) {
			size_t n = have < CXR_KIND_HEAD ? have : CXR_KIND_HEAD;
			cxr_seterr("%s: not a tensor stream (%s)", rd->path,
				   cxr_file_kind_what(cxr_file_kind(rd->in, n)));
			return -1;
		}
	}
	return have > 0;
}

/* One call of the decoder into dst[*pos..cap) (cap > *pos), reading input
 * first when none is left. 1 when it went on, 0 when the input is over and
 * the decoder holds nothing more, -1 on error. */
static int step(cxr_reader *rd, unsigned char *dst, size_t cap, size_t *pos)
{
	if (rd->zin.pos == rd->zin.size && !rd->eof && read_more(rd) < 0)
		return -1;
	size_t out0 = *pos, in0 = rd->zin.pos;
	ZSTD_outBuffer zout = {dst, cap, *pos};
	size_t z = ZSTD_decompressStream(rd->dctx, &zout, &rd->zin);
	if (ZSTD_isError(z)) {
		char w[1200];
		cxr_seterr("%s: corrupt data (%s)", at_what(rd, w, sizeof w), ZSTD_getErrorName(z));
		return -1;
	}
	*pos = zout.pos;
	if (zout.pos == out0 && rd->zin.pos == in0)
		return 0; /* (z is then the size of a next frame's header) */
	rd->frame_left = z;
	return 1;
}

/* Decompresses until rd->out holds at least want bytes (want is small: a
 * chunk header, a record's fields). Returns 1 when it does, 0 at the end
 * of the input on a frame boundary with nothing left over, -1 on error. */
static int fill(cxr_reader *rd, size_t want)
{
	while (rd->out.n < want) {
		size_t room = want - rd->out.n;
		buf_reserve(&rd->out, room < MIN_ROOM ? MIN_ROOM : room);
		int k = step(rd, rd->out.p, rd->out.cap, &rd->out.n);
		if (k < 0)
			return -1;
		if (!k) {
			if (rd->frame_left || rd->out.n) {
				truncated(rd);
				return -1;
			}
			return 0;
		}
	}
	return 1;
}

/* fill, where the end of the input is an error too. */
static int need(cxr_reader *rd, size_t want)
{
	int got = fill(rd, want);
	if (!got)
		truncated(rd);
	return got > 0 ? 0 : -1;
}

static void consume(cxr_reader *rd, size_t n)
{
	memmove(rd->out.p, rd->out.p + n, rd->out.n - n);
	rd->out.n -= n;
}

/* Skips n decompressed bytes, holding no more of them than fill does. */
static int skip(cxr_reader *rd, size_t n)
{
	while (n) {
		if (!rd->out.n && need(rd, 1))
			return -1;
		size_t k = rd->out.n < n ? rd->out.n : n;
		consume(rd, k);
		n -= k;
	}
	return 0;
}

/* The tensor's want bytes into a buffer for r->data: first what rd->out
 * holds, then straight from the decoder, the buffer growing as the bytes
 * arrive. keep (keep_n bytes), the previous record's buffer, is reused
 * when it has the size. NULL on error. */
static unsigned char *take_data(cxr_reader *rd, size_t want, void *keep, size_t keep_n)
{
	unsigned char *p = NULL;
	size_t cap = 0, got = 0;
	if (keep && keep_n == want) {
		p = keep;
		cap = want;
	} else {
		free(keep);
	}
	size_t k = rd->out.n < want ? rd->out.n : want;
	while (got < want) {
		if (got == cap || cap < k) {
			size_t ncap = cap * 2 > DATA_STEP ? cap * 2 : DATA_STEP;
			if (ncap < k)
				ncap = k;
			cap = ncap < want ? ncap : want;
			p = cxr_xrealloc(p, cap);
		}
		if (k) {
			memcpy(p, rd->out.p, k);
			consume(rd, k);
			got = k;
			k = 0;
			continue;
		}
		int s = step(rd, p, cap, &got);
		if (s <= 0) {
			if (!s)
				truncated(rd);
			free(p);
			return NULL;
		}
	}
	return p;
}

/* The record chunk of body length len whose tag and length rd->out holds,
 * into r; on error r is freed. */
static int read_record(cxr_reader *rd, uint32_t len, cxr_record *r, const char *where)
{
	/* the fields: first from what a short header takes, then, for long
	 * strings, from the most they can take */
	size_t n = len < FIRST_HEAD ? len : FIRST_HEAD, head, nbytes;
	int filter, k;
	void *keep = r->data;
	size_t keep_n = r->nbytes;
	r->data = NULL;
	while ((k = need(rd, 8 + n) ? -1
				    : parse_head(rd->out.p + 8, n, len, r, where, &head, &nbytes,
						 &filter)) == 1)
		n = len < MAX_HEAD ? len : MAX_HEAD;
	if (k) {
		free(keep);
		cxr_record_free(r);
		return -1;
	}
	consume(rd, 8 + head);
	if (!(r->data = take_data(rd, nbytes, keep, keep_n))) {
		cxr_record_free(r);
		return -1;
	}
	r->nbytes = nbytes;
	if (filter == FILTER_DELTA)
		delta_decode(r->data, nbytes, r->dims[r->ndim - 1]);
	/* The record's frame ends with it (cxr-stream.5): take in the frame's
	 * checksum now, so that a damaged record is refused, not returned. A
	 * frame holding more (which this reader tolerates) yields bytes; stop
	 * at the first. */
	while (rd->frame_left && !rd->out.n) {
		buf_reserve(&rd->out, MIN_ROOM);
		int k = step(rd, rd->out.p, rd->out.cap, &rd->out.n);
		if (k <= 0) {
			if (!k)
				truncated(rd);
			cxr_record_free(r);
			return -1;
		}
	}
	return 0;
}

static int tag_is(const unsigned char *h, const char *tag) { return !memcmp(h, tag, 4); }

/* The stream header whose tag and length rd->out holds: its version, then
 * the rest of it skipped. */
static int read_stream_header(cxr_reader *rd, uint32_t len)
{
	if (need(rd, 8 + (len < 2 ? len : 2)))
		return -1;
	unsigned v = len < 2 ? 0 : cxr_le_get16(rd->out.p + 8);
	if (v != STREAM_VERSION) {
		cxr_seterr("%s: unsupported stream version %u (this is version %d)", rd->path, v,
			   STREAM_VERSION);
		return -1;
	}
	return skip(rd, 8 + (size_t)len);
}

/* The end marker whose tag and length rd->out holds: its count into *n
 * (all ones when it has none). */
static int read_end(cxr_reader *rd, uint32_t len, uint64_t *n)
{
	if (need(rd, 8 + (len < 8 ? len : 8)))
		return -1;
	*n = len >= 8 ? cxr_le_get64(rd->out.p + 8) : ~0ull;
	return skip(rd, 8 + (size_t)len);
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
		if (!tag_is(h, TAG_STREAM) && !tag_is(h, TAG_RECORD) && !tag_is(h, TAG_END)) {
			if (rd->seen_stream)
				cxr_seterr("%s: bad chunk tag", where);
			else
				cxr_seterr("%s: not a tensor stream (%s)", rd->path,
					   cxr_file_kind_what(tag_is(h, "CXRM") ? CXR_KIND_MODEL
										: CXR_KIND_ZSTD));
			return -1;
		}
		if (len > MAX_CHUNK) {
			cxr_seterr("%s: length %u exceeds the limit", where, len);
			return -1;
		}
		if (tag_is(h, TAG_STREAM)) {
			if (rd->in_stream) {
				cxr_seterr("%s: stream header inside a stream", where);
				return -1;
			}
			if (read_stream_header(rd, len))
				return -1;
			rd->in_stream = rd->seen_stream = 1;
			rd->count = 0;
			continue;
		}
		if (!rd->in_stream) {
			if (rd->seen_stream)
				cxr_seterr("%s: data after the end marker without a stream header", where);
			else
				cxr_seterr("%s: not a tensor stream (it does not begin with a stream header)",
					   rd->path);
			return -1;
		}
		if (tag_is(h, TAG_END)) {
			uint64_t n;
			if (read_end(rd, len, &n))
				return -1;
			if (n != rd->count) {
				cxr_seterr("%s: end marker counts %llu records, the stream holds %llu",
					   rd->path, (unsigned long long)n, (unsigned long long)rd->count);
				return -1;
			}
			rd->in_stream = 0;
			continue;
		}
		if (read_record(rd, len, r, where))
			return -1;
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

#define POOL 8 /* decoders kept for reuse, one per thread at a time */

struct cxr_pack {
	int fd;
	char *path;
	uint64_t count;
	uint64_t *offsets;
	uint32_t *sizes;
	pthread_mutex_t mu; /* guards the pool */
	ZSTD_DCtx *pool[POOL];
	int npool;
};

static ZSTD_DCtx *dctx_get(cxr_pack *p)
{
	ZSTD_DCtx *d = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->npool)
		d = p->pool[--p->npool];
	pthread_mutex_unlock(&p->mu);
	return d ? d : new_dctx();
}

static void dctx_put(cxr_pack *p, ZSTD_DCtx *d)
{
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	pthread_mutex_lock(&p->mu);
	if (p->npool < POOL) {
		p->pool[p->npool++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	ZSTD_freeDCtx(d);
}

/* A reader of the bytes [from, to) of the pack; what: for messages, NULL
 * for a record. Close with region_close. */
static void region_open(cxr_reader *rd, cxr_pack *p, uint64_t from, uint64_t to,
			const char *what)
{
	memset(rd, 0, sizeof *rd);
	rd->fd = p->fd;
	rd->at = from;
	rd->end = to;
	rd->path = p->path;
	rd->what = what;
	rd->started = 1;
	rd->dctx = dctx_get(p);
	rd->in_cap = ZSTD_DStreamInSize();
	if (to - from < rd->in_cap)
		rd->in_cap = to > from ? (size_t)(to - from) : 1;
	rd->in = cxr_xmalloc(rd->in_cap);
	rd->zin.src = rd->in;
}

static void region_close(cxr_reader *rd, cxr_pack *p)
{
	dctx_put(p, rd->dctx);
	free(rd->in);
	free(rd->out.p);
}

/* Nothing more in the region (skippable frames aside): 0, or -1 with the
 * error set, saying what was found: after. */
static int region_ends(cxr_reader *rd, const char *after)
{
	int got = fill(rd, 1);
	if (got > 0)
		cxr_seterr("%s: %s", rd->path, after);
	return got ? -1 : 0;
}

/* The stream header at the start of a region. */
static int expect_stream_header(cxr_reader *rd)
{
	rd->what = "stream header";
	int got = fill(rd, 8);
	if (got <= 0) {
		if (!got)
			cxr_seterr("%s: no stream header before the first record", rd->path);
		return -1;
	}
	const unsigned char *h = rd->out.p;
	if (!tag_is(h, TAG_STREAM) || cxr_le_get32(h + 4) > MAX_CHUNK) {
		cxr_seterr("%s: not a tensor stream (%s)", rd->path,
			   tag_is(h, "CXRM") ? cxr_file_kind_what(CXR_KIND_MODEL)
					     : "it does not begin with a stream header");
		return -1;
	}
	return read_stream_header(rd, cxr_le_get32(h + 4));
}

/* An end marker counting count records, then nothing more in the region. */
static int expect_end_marker(cxr_reader *rd, uint64_t count)
{
	rd->what = "end marker";
	int got = fill(rd, 8);
	if (got <= 0) {
		if (!got)
			cxr_seterr("%s: no end marker after the last record (the stream is cut short)",
				   rd->path);
		return -1;
	}
	const unsigned char *h = rd->out.p;
	uint32_t len = cxr_le_get32(h + 4);
	uint64_t n;
	if (!tag_is(h, TAG_END) || len > MAX_CHUNK) {
		cxr_seterr("%s: no end marker after the last record (%s)", rd->path,
			   tag_is(h, TAG_RECORD) ? "a record not in the index" : "bad chunk tag");
		return -1;
	}
	if (read_end(rd, len, &n))
		return -1;
	if (n != count) {
		cxr_seterr("%s: end marker counts %llu records, the seek index %llu", rd->path,
			   (unsigned long long)n, (unsigned long long)count);
		return -1;
	}
	return region_ends(rd, "data after the end marker, before the seek index");
}

/* What a sequential reader would see at both ends of the records: the
 * stream header before the first, the end marker after the last. */
static int check_ends(cxr_pack *p, uint64_t index_at)
{
	cxr_reader rd;
	uint64_t n = p->count;
	region_open(&rd, p, 0, n ? p->offsets[0] : index_at, NULL);
	int rc = expect_stream_header(&rd);
	if (!rc && n)
		rc = region_ends(&rd, "data between the stream header and the first record");
	if (!rc && n) {
		region_close(&rd, p);
		region_open(&rd, p, p->offsets[n - 1] + p->sizes[n - 1], index_at, NULL);
	}
	if (!rc)
		rc = expect_end_marker(&rd, n);
	region_close(&rd, p);
	return rc;
}

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

/* A file without a seek index: a stream not packed, or no stream. */
static void no_index(const char *path)
{
	int kind = cxr_file_kind_of(path);
	if (kind == CXR_KIND_STREAM)
		cxr_seterr("%s: no seek index (a tensor stream, not a pack: pack it with cxr-pack)",
			   path);
	else
		cxr_seterr("%s: not a tensor stream (%s)", path, cxr_file_kind_what(kind));
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
	pthread_mutex_init(&p->mu, NULL);
	unsigned char foot[8], *ix = NULL;
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 16 || pread_all(fd, foot, 8, st.st_size - 8) ||
	    memcmp(foot + 4, FOOTER_TAG, 4)) {
		no_index(path);
		goto fail;
	}
	uint32_t fsize = cxr_le_get32(foot);
	if (fsize < 36 || fsize > (uint64_t)st.st_size) {
		cxr_seterr("%s: bad seek index size", path);
		goto fail;
	}
	ix = cxr_xmalloc(fsize); /* no more than the file holds */
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
	/* Each entry inside the file before the index, after the one before
	 * (and the stream header), no two overlapping; sums that cannot wrap. */
	uint64_t limit = (uint64_t)st.st_size - fsize, from = 1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t off = cxr_le_get64(b + 16 + 12 * i);
		uint32_t size = cxr_le_get32(b + 16 + 12 * i + 8);
		p->offsets[i] = off;
		p->sizes[i] = size;
		if (off > limit || size > limit - off) {
			cxr_seterr("%s: seek index entry %llu points outside the file", path,
				   (unsigned long long)i + 1);
			goto fail;
		}
		if (off < from || !size) {
			cxr_seterr("%s: seek index entry %llu overlaps the one before it or is empty",
				   path, (unsigned long long)i + 1);
			goto fail;
		}
		from = off + size;
	}
	free(ix);
	ix = NULL;
	if (check_ends(p, limit))
		goto fail;
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
	cxr_reader rd;
	region_open(&rd, p, p->offsets[k], p->offsets[k] + p->sizes[k], NULL);
	rd.total = k; /* messages name record k + 1 */
	int rc = -1, got = fill(&rd, 8);
	if (got <= 0) {
		if (!got)
			cxr_seterr("%s: index points at no data", where);
		goto out;
	}
	uint32_t len = cxr_le_get32(rd.out.p + 4);
	if (!tag_is(rd.out.p, TAG_RECORD) || len > MAX_CHUNK) {
		cxr_seterr("%s: index does not point at a record", where);
		goto out;
	}
	if (read_record(&rd, len, r, where))
		goto out;
	got = fill(&rd, 1);
	if (got) {
		if (got > 0)
			cxr_seterr("%s: index entry holds more than the record", where);
		cxr_record_free(r);
		goto out;
	}
	rc = 0;
out:
	region_close(&rd, p);
	return rc;
}

void cxr_pack_close(cxr_pack *p)
{
	if (!p)
		return;
	close(p->fd);
	for (int i = 0; i < p->npool; i++)
		ZSTD_freeDCtx(p->pool[i]);
	pthread_mutex_destroy(&p->mu);
	free(p->offsets);
	free(p->sizes);
	free(p->path);
	free(p);
}
