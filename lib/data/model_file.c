/* model_file — the .cxm container of man/cxr-model.5.
 *
 * The content (what `zstd -d` shows) is
 *	"CXRM" u32 version
 *	u32 nmeta   { u32 len, key, u32 len, value }
 *	u32 ntensor { u32 len, name, u8 dtype, u8 ndim, u64 dims[ndim],
 *		      zeros to a multiple of 64, data }
 *	SHA-256 of all the above (32 bytes)
 * in one zstd frame. A loaded file is kept as one block, its content
 * 64-byte aligned in it, and its tensors point into it, so loading copies
 * nothing after the decompression (and, where the frame declares its
 * size, nothing during it past the first step); tensors added later own
 * their memory. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "base/cli.h"
#include "base/hugemem.h"
#include "base/le.h"
#include "data/file_kind.h"
#include "data/model_file.h"
#include "base/sha256.h"
#include "data/stream.h"

#define MAGIC "CXRM"
#define ALIGN 64
#define SUMLEN 32

struct cxr_model {
	char *path;          /* as loaded, for messages */
	int nmeta, capmeta;
	char **keys, **vals;
	int nt, capt;
	cxr_tensor **t;      /* separately allocated, so pointers stay valid */
	unsigned char *owned; /* [capt]: t[i]->data is ours to free (else in block) */
	void *block;         /* decompressed content of a loaded file */
	char digest[13];     /* "" until known; cleared by any change */
};

static const char *name_of(const cxr_model *m)
{
	return m->path ? m->path : "model";
}

cxr_model *cxr_model_new(void)
{
	return cxr_xcalloc(1, sizeof(cxr_model));
}

static void tensor_free(cxr_model *m, int i)
{
	if (m->owned[i])
		free(m->t[i]->data);
	free(m->t[i]->name);
	free(m->t[i]);
}

void cxr_model_free(cxr_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nmeta; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	for (int i = 0; i < m->nt; i++)
		tensor_free(m, i);
	free(m->t);
	free(m->owned);
	free(m->block);
	free(m->path);
	free(m);
}

/* ---- metadata ---- */

static int meta_index(const cxr_model *m, const char *key)
{
	for (int i = 0; i < m->nmeta; i++)
		if (!strcmp(m->keys[i], key))
			return i;
	return -1;
}

void cxr_model_set_meta(cxr_model *m, const char *key, const char *value)
{
	int i = meta_index(m, key);
	m->digest[0] = 0;
	if (!value) { /* removes the key */
		if (i < 0)
			return;
		free(m->keys[i]);
		free(m->vals[i]);
		memmove(m->keys + i, m->keys + i + 1, (size_t)(m->nmeta - i - 1) * sizeof *m->keys);
		memmove(m->vals + i, m->vals + i + 1, (size_t)(m->nmeta - i - 1) * sizeof *m->vals);
		m->nmeta--;
		return;
	}
	if (i >= 0) {
		free(m->vals[i]);
		m->vals[i] = cxr_xstrdup(value);
		return;
	}
	if (m->nmeta == m->capmeta) {
		m->capmeta = m->capmeta ? 2 * m->capmeta : 16;
		m->keys = cxr_xrealloc(m->keys, (size_t)m->capmeta * sizeof *m->keys);
		m->vals = cxr_xrealloc(m->vals, (size_t)m->capmeta * sizeof *m->vals);
	}
	m->keys[m->nmeta] = cxr_xstrdup(key);
	m->vals[m->nmeta] = cxr_xstrdup(value);
	m->nmeta++;
}

const char *cxr_model_get_meta(const cxr_model *m, const char *key)
{
	int i = meta_index(m, key);
	return i < 0 ? NULL : m->vals[i];
}

int cxr_model_nmeta(const cxr_model *m) { return m->nmeta; }

void cxr_model_meta_at(const cxr_model *m, int i, const char **key, const char **value)
{
	*key = m->keys[i];
	*value = m->vals[i];
}

/* ---- tensors ---- */

static int tensor_index(const cxr_model *m, const char *name)
{
	for (int i = 0; i < m->nt; i++)
		if (!strcmp(m->t[i]->name, name))
			return i;
	return -1;
}

/* Bytes of a tensor of this dtype and shape; 0 with an error set when the
 * shape is invalid or larger than CXR_MODEL_MAX_TENSOR_BYTES. */
static int tensor_bytes(int dtype, int ndim, const int64_t *dims, size_t *nbytes)
{
	if (dtype != CXR_U8 && dtype != CXR_U16 && dtype != CXR_F32) {
		cxr_seterr("unknown dtype code %d (1 u8, 2 u16, 3 f32)", dtype);
		return -1;
	}
	if (ndim < 0 || ndim > CXR_MODEL_MAX_DIMS) {
		cxr_seterr("%d dimensions (at most %d)", ndim, CXR_MODEL_MAX_DIMS);
		return -1;
	}
	uint64_t n = cxr_dtype_size(dtype);
	for (int d = 0; d < ndim; d++) {
		if (dims[d] < 0) {
			cxr_seterr("negative dimension %lld", (long long)dims[d]);
			return -1;
		}
		uint64_t k = (uint64_t)dims[d];
		if (k && n > CXR_MODEL_MAX_TENSOR_BYTES / k) {
			cxr_seterr("shape too large (more than %llu bytes)",
				   (unsigned long long)CXR_MODEL_MAX_TENSOR_BYTES);
			return -1;
		}
		n *= k;
	}
	/* a zero dimension after a huge product: still check every dim */
	for (int d = 0; d < ndim; d++)
		if ((uint64_t)dims[d] > CXR_MODEL_MAX_TENSOR_BYTES) {
			cxr_seterr("dimension %lld too large", (long long)dims[d]);
			return -1;
		}
	*nbytes = (size_t)n;
	return 0;
}

/* Puts t at the place of any tensor of the same name, else at the end. */
static void tensor_put(cxr_model *m, cxr_tensor *t, int owned)
{
	int i = tensor_index(m, t->name);
	if (i >= 0) {
		tensor_free(m, i);
	} else {
		if (m->nt == m->capt) {
			m->capt = m->capt ? 2 * m->capt : 64;
			m->t = cxr_xrealloc(m->t, (size_t)m->capt * sizeof *m->t);
			m->owned = cxr_xrealloc(m->owned, (size_t)m->capt);
		}
		i = m->nt++;
	}
	m->t[i] = t;
	m->owned[i] = (unsigned char)owned;
	m->digest[0] = 0;
}

/* A tensor's header, its data not yet set; dies on a bad name or shape. */
static cxr_tensor *tensor_new(const char *name, int dtype, int ndim, const int64_t *dims)
{
	size_t nbytes;
	if (!*name)
		cxr_die(CXR_EXIT_DATA, "cxr_model_add: empty tensor name");
	if (tensor_bytes(dtype, ndim, dims, &nbytes))
		cxr_die(CXR_EXIT_DATA, "cxr_model_add: tensor '%s': %s", name, cxr_errmsg());
	cxr_tensor *t = cxr_xcalloc(1, sizeof *t);
	t->name = cxr_xstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		t->dims[d] = dims[d];
	t->nbytes = nbytes;
	return t;
}

void *cxr_model_add(cxr_model *m, const char *name, int dtype, int ndim, const int64_t *dims)
{
	cxr_tensor *t = tensor_new(name, dtype, ndim, dims);
	t->data = cxr_xcalloc(1, t->nbytes ? t->nbytes : 1);
	tensor_put(m, t, 1);
	return t->data;
}

void *cxr_model_add_copy(cxr_model *m, const char *name, int dtype, int ndim,
			 const int64_t *dims, const void *data)
{
	void *p = cxr_model_add(m, name, dtype, ndim, dims);
	const cxr_tensor *t = cxr_model_find(m, name);
	if (t->nbytes)
		memcpy(p, data, t->nbytes);
	return p;
}

void cxr_model_add_ref(cxr_model *m, const char *name, int dtype, int ndim, const int64_t *dims,
		       const void *data)
{
	cxr_tensor *t = tensor_new(name, dtype, ndim, dims);
	t->data = (void *)data;
	tensor_put(m, t, 0);
}

int cxr_model_remove(cxr_model *m, const char *name)
{
	int i = tensor_index(m, name);
	if (i < 0)
		return 0;
	tensor_free(m, i);
	memmove(m->t + i, m->t + i + 1, (size_t)(m->nt - i - 1) * sizeof *m->t);
	memmove(m->owned + i, m->owned + i + 1, (size_t)(m->nt - i - 1));
	m->nt--;
	m->digest[0] = 0;
	return 1;
}

const cxr_tensor *cxr_model_find(const cxr_model *m, const char *name)
{
	int i = tensor_index(m, name);
	return i < 0 ? NULL : m->t[i];
}

int cxr_model_ntensors(const cxr_model *m) { return m->nt; }

const cxr_tensor *cxr_model_tensor_at(const cxr_model *m, int i) { return m->t[i]; }

/* "[64,1,7,7]" into buf */
static void shape_str(char *buf, size_t n, int ndim, const int64_t *dims)
{
	size_t k = (size_t)snprintf(buf, n, "[");
	for (int d = 0; d < ndim && k < n; d++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? "," : "", (long long)dims[d]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

const float *cxr_model_expect_f32(const cxr_model *m, const char *name, int ndim,
				  const int64_t *dims)
{
	const cxr_tensor *t = cxr_model_find(m, name);
	char want[160], have[160];
	shape_str(want, sizeof want, ndim, dims);
	if (!t) {
		cxr_seterr("%s: no tensor '%s' (expected f32 %s)", name_of(m), name, want);
		return NULL;
	}
	int same = t->dtype == CXR_F32 && t->ndim == ndim;
	for (int d = 0; same && d < ndim; d++)
		same = t->dims[d] == dims[d];
	if (!same) {
		shape_str(have, sizeof have, t->ndim, t->dims);
		cxr_seterr("%s: tensor '%s' is %s %s, expected f32 %s", name_of(m), name,
			   cxr_dtype_name(t->dtype), have, want);
		return NULL;
	}
	return t->data;
}

const char *cxr_model_path(const cxr_model *m) { return m->path; }

/* ---- writing ---- */

/* Where the content goes: the hash always, the compressor when saving. */
typedef struct sink {
	cxr_sha256 sha;
	size_t pos;        /* content bytes so far, for the alignment */
	ZSTD_CCtx *cctx;   /* NULL: hash only */
	FILE *f;           /* where the compressed bytes go as they come */
	char *out;         /* one ZSTD_CStreamOutSize() buffer */
	size_t err;        /* a zstd error code, 0 if none */
	int werr;          /* errno of a failed write, 0 if none */
} sink;

/* Compressed bytes go to the file a buffer at a time: holding the whole
 * file in memory would add its size (a checkpoint: three times the
 * weights) to the training's peak. */
static void sink_zstd(sink *s, const void *p, size_t n, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer out = {s->out, ZSTD_CStreamOutSize(), 0};
		size_t r = ZSTD_compressStream2(s->cctx, &out, &in, end);
		if (ZSTD_isError(r)) {
			s->err = r;
			return;
		}
		if (out.pos && fwrite(s->out, 1, out.pos, s->f) != out.pos) {
			s->werr = errno ? errno : EIO;
			return;
		}
		if (end == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return;
	}
}

static void put(sink *s, const void *p, size_t n)
{
	cxr_sha256_update(&s->sha, p, n);
	s->pos += n;
	if (s->cctx && !s->err && !s->werr && n)
		sink_zstd(s, p, n, ZSTD_e_continue);
}

static void put_u32(sink *s, uint32_t v)
{
	unsigned char b[4];
	cxr_le_put32(b, v);
	put(s, b, 4);
}

static void put_u64(sink *s, uint64_t v)
{
	unsigned char b[8];
	cxr_le_put64(b, v);
	put(s, b, 8);
}

static void put_str(sink *s, const char *str)
{
	size_t n = strlen(str);
	put_u32(s, (uint32_t)n);
	put(s, str, n);
}

static int utf8_valid(const unsigned char *p, size_t n);

/* Checks what load would refuse, so that a saved file always loads. */
static int check_limits(const cxr_model *m, const char *path)
{
	if (m->nmeta > CXR_MODEL_MAX_META || m->nt > CXR_MODEL_MAX_TENSORS) {
		cxr_seterr("%s: too many metadata entries or tensors", path);
		return -1;
	}
	for (int i = 0; i < m->nmeta; i++) {
		size_t kn = strlen(m->keys[i]), vn = strlen(m->vals[i]);
		if (!kn || kn > CXR_MODEL_MAX_KEY || vn > CXR_MODEL_MAX_VALUE ||
		    !utf8_valid((const unsigned char *)m->keys[i], kn) ||
		    !utf8_valid((const unsigned char *)m->vals[i], vn)) {
			cxr_seterr("%s: metadata key '%.40s': empty, too long or not UTF-8", path,
				   m->keys[i]);
			return -1;
		}
	}
	for (int i = 0; i < m->nt; i++) {
		size_t n = strlen(m->t[i]->name);
		if (n > CXR_MODEL_MAX_NAME || !utf8_valid((const unsigned char *)m->t[i]->name, n)) {
			cxr_seterr("%s: tensor name '%.40s': too long or not UTF-8", path,
				   m->t[i]->name);
			return -1;
		}
	}
	return 0;
}

/* Feeds the whole content to s and leaves the checksum in sum. */
static void serialise(const cxr_model *m, sink *s, unsigned char sum[32])
{
	static const unsigned char zeros[ALIGN];
	put(s, MAGIC, 4);
	put_u32(s, CXR_MODEL_VERSION);
	put_u32(s, (uint32_t)m->nmeta);
	for (int i = 0; i < m->nmeta; i++) {
		put_str(s, m->keys[i]);
		put_str(s, m->vals[i]);
	}
	put_u32(s, (uint32_t)m->nt);
	for (int i = 0; i < m->nt; i++) {
		const cxr_tensor *t = m->t[i];
		put_str(s, t->name);
		unsigned char b[2] = {(unsigned char)t->dtype, (unsigned char)t->ndim};
		put(s, b, 2);
		for (int d = 0; d < t->ndim; d++)
			put_u64(s, (uint64_t)t->dims[d]);
		put(s, zeros, (ALIGN - s->pos % ALIGN) % ALIGN);
		put(s, t->data, t->nbytes);
	}
	cxr_sha256_final(&s->sha, sum);
	if (s->cctx && !s->err && !s->werr)
		sink_zstd(s, sum, SUMLEN, ZSTD_e_end);
}

/* The content's length, for the frame header. */
static uint64_t content_size(const cxr_model *m)
{
	uint64_t pos = 12;
	for (int i = 0; i < m->nmeta; i++)
		pos += 8 + strlen(m->keys[i]) + strlen(m->vals[i]);
	pos += 4;
	for (int i = 0; i < m->nt; i++) {
		const cxr_tensor *t = m->t[i];
		pos += 4 + strlen(t->name) + 2 + 8 * (uint64_t)t->ndim;
		pos += (ALIGN - pos % ALIGN) % ALIGN;
		pos += t->nbytes;
	}
	return pos + SUMLEN;
}

static void set_digest(cxr_model *m, const unsigned char sum[32])
{
	char hex[65];
	cxr_sha256_hex(sum, hex);
	memcpy(m->digest, hex, 12);
	m->digest[12] = 0;
}

int cxr_model_save(const cxr_model *m, const char *path)
{
	if (check_limits(m, path))
		return -1;
	sink s = {0};
	cxr_sha256_init(&s.sha);
	cxr_atomic *a = cxr_atomic_open(path);
	if (!a)
		return -1;
	s.f = cxr_atomic_file(a);
	s.cctx = ZSTD_createCCtx();
	s.out = malloc(ZSTD_CStreamOutSize());
	if (!s.cctx || !s.out) {
		ZSTD_freeCCtx(s.cctx);
		free(s.out);
		cxr_atomic_abort(a);
		cxr_seterr("%s: out of memory", path);
		return -1;
	}
	ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_compressionLevel, CXR_MODEL_LEVEL);
	ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(s.cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(s.cctx, content_size(m));
	unsigned char sum[32];
	serialise(m, &s, sum);
	ZSTD_freeCCtx(s.cctx);
	free(s.out);
	int rc = -1;
	if (s.err) {
		cxr_seterr("%s: zstd: %s", path, ZSTD_getErrorName(s.err));
		cxr_atomic_abort(a);
	} else if (s.werr) {
		cxr_seterr("%s: write error: %s", path, strerror(s.werr));
		cxr_atomic_abort(a);
	} else {
		rc = cxr_atomic_commit(a);
	}
	if (!rc)
		set_digest((cxr_model *)m, sum);
	return rc;
}

const char *cxr_model_digest(const cxr_model *m)
{
	if (!m->digest[0]) {
		/* never saved or changed since: what saving it would give */
		sink s = {0};
		unsigned char sum[32];
		cxr_sha256_init(&s.sha);
		serialise(m, &s, sum);
		set_digest((cxr_model *)m, sum);
	}
	return m->digest;
}

/* ---- reading ---- */

/* The content is decompressed in steps as the parse asks for it, into one
 * block grown by doubling (grow_to) that keeps the content at a 64-byte
 * aligned place (shift), with room for at most twice the bytes
 * decompressed so far: what a file declares (a count, a tensor's shape)
 * allocates nothing before its bytes have arrived, and the magic and
 * version are checked on the first bytes, so a zstd bomb of anything else
 * costs one step. The one exception is the frame's own content size,
 * up to a few times the file's, given its block after that step
 * (whole_block_due): address space, with memory behind it only as the
 * bytes arrive, and the doubling where it is refused. */
#define STEP (64u << 10)       /* bytes decompressed at a time, at least */
#define TRAIL_MAX (1u << 20)   /* trailing content counted in a message */
#define DRAIN_MAX (64u << 20)  /* content read past a parse error */

static int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			if (!c)
				return 0; /* a NUL would cut the C string */
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + k + 1 > n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < least[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

typedef struct src {
	const char *path;
	FILE *f;
	ZSTD_DCtx *dctx;
	unsigned char *in;
	ZSTD_inBuffer zin;
	size_t in_cap;
	int eof;                /* the file is read to its end */
	int done;               /* the frame is complete */
	int bad;                /* a step failed: the decoder is not to be used */
	int sized;              /* the frame declares its content size: limit */
	size_t file_size;       /* a regular file's size, else 0 */
	size_t limit;           /* the content is no longer: its size, or the limit */
	unsigned char *base;    /* the block: cap + ALIGN bytes */
	size_t shift, cap, len; /* content at base + shift; len bytes so far */
} src;

/* (NULL before the first byte: a frame may declare no content at all) */
static unsigned char *content_of(const src *s) { return s->base ? s->base + s->shift : NULL; }

/* Moves the content into a new block of cap bytes: 0, or -1 when memory
 * is short (the old block kept). A new block and a copy rather than
 * realloc: realloc's copy would fault the new block in 4 KiB pages before
 * it could be advised into huge ones (hugemem.h), and a block that moves
 * from the heap to its own mapping is copied either way. */
static int move_to(src *s, size_t cap)
{
	unsigned char *b = cxr_malloc_huge(cap + ALIGN);
	if (!b)
		return -1;
	size_t shift = (ALIGN - (uintptr_t)b % ALIGN) % ALIGN;
	if (s->len)
		memcpy(b + shift, s->base + s->shift, s->len);
	free(s->base);
	s->base = b;
	s->shift = shift;
	s->cap = cap;
	return 0;
}

/* Makes the block hold cap bytes of content, keeping what it holds. */
static int grow_to(src *s, size_t cap)
{
	if (move_to(s, cap)) {
		s->bad = 1;
		cxr_seterr("%s: out of memory (%zu bytes)", s->path, cap + ALIGN);
		return -1;
	}
	return 0;
}

static int read_in(src *s)
{
	size_t n = fread(s->in, 1, s->in_cap, s->f);
	if (ferror(s->f)) {
		cxr_seterr("%s: read error: %s", s->path, strerror(errno));
		return -1;
	}
	if (!n)
		s->eof = 1;
	s->zin.size = n;
	s->zin.pos = 0;
	return 0;
}

/* After the frame, complete: nothing may follow it in the file. */
static int nothing_after(src *s)
{
	if (s->zin.pos == s->zin.size && !s->eof && read_in(s))
		return -1;
	if (s->zin.pos < s->zin.size) {
		cxr_seterr("%s: trailing data after the zstd frame", s->path);
		return -1;
	}
	return 0;
}

/* One call of the decoder into dst[*pos..end): 1 when it went on, -1 on
 * error (corrupt, or the file ends inside the frame). */
static int step(src *s, unsigned char *dst, size_t end, size_t *pos)
{
	int rc = -1;
	if (s->bad || (s->zin.pos == s->zin.size && !s->eof && read_in(s)))
		goto out;
	size_t in0 = s->zin.pos, out0 = *pos;
	ZSTD_outBuffer o = {dst, end, *pos};
	size_t z = ZSTD_decompressStream(s->dctx, &o, &s->zin);
	if (ZSTD_isError(z)) {
		cxr_seterr("%s: corrupt zstd data: %s", s->path, ZSTD_getErrorName(z));
		goto out;
	}
	*pos = o.pos;
	if (!z)
		s->done = 1;
	else if (o.pos == out0 && s->zin.pos == in0 && s->eof) {
		cxr_seterr("%s: truncated (the zstd frame ends early)", s->path);
		goto out;
	}
	rc = 1;
out:
	if (rc < 0)
		s->bad = 1;
	return rc;
}

/* Whether the block, full at cap bytes short of the content's declared
 * size, is to take that whole size now rather than double: where the
 * first step (the magic and the version) has been read and the size is
 * at most WHOLE_RATIO times the file's (a model's floats compress little;
 * a bomb's claim is many times its bytes and keeps the doubling, memory
 * following the bytes as they arrive). One block means no copy at every
 * doubling: a 94 MB model touched 220 MB of fresh pages that way, the
 * kernel zeroing each, the larger part of a cold start. Its pages take
 * memory only as the content fills them; where its address space is
 * refused, the doubling goes on. */
#define WHOLE_RATIO 4
static int whole_block_due(const src *s, size_t cap)
{
	return s->sized && s->cap >= STEP && s->limit > cap &&
	       s->limit / WHOLE_RATIO <= s->file_size;
}

/* Decompresses until the content holds want bytes: 1, 0 when it has
 * fewer (the frame ended, or want is past the content's size), -1. */
static int pull(src *s, size_t want)
{
	if (want > s->limit)
		return 0;
	while (s->len < want) {
		if (s->done)
			return 0;
		if (s->len == s->cap) {
			size_t cap = s->cap < STEP ? STEP : 2 * s->cap;
			const int whole = whole_block_due(s, cap) && move_to(s, s->limit) == 0;
			if (!whole && grow_to(s, cap < s->limit ? cap : s->limit))
				return -1;
		}
		/* a step ahead of the parse, but the first bytes alone: the
		 * magic is checked before more is decompressed */
		size_t end = s->len && want - s->len < STEP ? s->len + STEP : want;
		if (end > s->cap)
			end = s->cap;
		if (step(s, content_of(s), end, &s->len) < 0)
			return -1;
	}
	return 1;
}

/* Decompresses and drops the rest of the frame, max bytes at most (then
 * max + 1 is returned, the frame unfinished): the bytes dropped, or -1. */
static long long drain(src *s, size_t max)
{
	unsigned char scratch[4096];
	size_t total = 0;
	while (!s->done && total <= max) {
		size_t n = 0;
		if (step(s, scratch, sizeof scratch, &n) < 0)
			return -1;
		total += n;
	}
	return total > max ? (long long)max + 1 : (long long)total;
}

/* The content's bytes [*pos, *pos + n), *pos moved past them; NULL with
 * the error set. The pointer is good until the next call. */
static const unsigned char *need(src *s, size_t *pos, size_t n, const char *what)
{
	int got = pull(s, *pos + n);
	if (got <= 0) {
		if (!got)
			cxr_seterr("%s: truncated content: %s runs past the end (offset %zu)", s->path,
				   what, *pos);
		return NULL;
	}
	const unsigned char *q = content_of(s) + *pos;
	*pos += n;
	return q;
}

/* What the content can still hold from pos, less the checksum: a bound
 * for counts where the frame declares its size. */
static size_t room_from(const src *s, size_t pos)
{
	return s->limit >= pos + SUMLEN ? s->limit - pos - SUMLEN : 0;
}

/* A length-prefixed UTF-8 string of 1..max bytes (0..max with allow_empty),
 * duplicated into *str. */
static int get_str(src *s, size_t *pos, size_t max, int allow_empty, const char *what,
		   char **str)
{
	const unsigned char *q = need(s, pos, 4, what);
	if (!q)
		return -1;
	uint32_t n = cxr_le_get32(q);
	if (n > max || (!n && !allow_empty)) {
		cxr_seterr("%s: %s: length %u not in %d..%zu", s->path, what, n, !allow_empty, max);
		return -1;
	}
	if (!(q = need(s, pos, n, what)))
		return -1;
	if (!utf8_valid(q, n)) {
		cxr_seterr("%s: %s: not valid UTF-8 (or contains NUL)", s->path, what);
		return -1;
	}
	*str = cxr_xmalloc((size_t)n + 1);
	memcpy(*str, q, n);
	(*str)[n] = 0;
	return 0;
}

/* Builds m's metadata and tensors from the content after the magic and
 * version, as it is decompressed; *end: where the checksum begins. A
 * loaded tensor's data holds its offset in the content until load fixes
 * it up (the block moves while it grows). */
static int parse(cxr_model *m, src *s, size_t *end)
{
	const char *path = s->path;
	char what[CXR_MODEL_MAX_NAME + 64];
	const unsigned char *q;
	size_t pos = 8;
	if (!(q = need(s, &pos, 4, "metadata count")))
		return -1;
	uint32_t nmeta = cxr_le_get32(q);
	if (nmeta > CXR_MODEL_MAX_META || (uint64_t)nmeta * 8 > room_from(s, pos)) {
		cxr_seterr("%s: bad metadata count %u", path, nmeta);
		return -1;
	}
	for (uint32_t i = 0; i < nmeta; i++) {
		char *k = NULL, *v = NULL;
		snprintf(what, sizeof what, "metadata entry %u key", i);
		if (get_str(s, &pos, CXR_MODEL_MAX_KEY, 0, what, &k))
			return -1;
		snprintf(what, sizeof what, "metadata '%.200s' value", k);
		if (get_str(s, &pos, CXR_MODEL_MAX_VALUE, 1, what, &v)) {
			free(k);
			return -1;
		}
		int dup = meta_index(m, k) >= 0;
		if (dup)
			cxr_seterr("%s: duplicate metadata key '%.200s'", path, k);
		else
			cxr_model_set_meta(m, k, v);
		free(k);
		free(v);
		if (dup)
			return -1;
	}
	if (!(q = need(s, &pos, 4, "tensor count")))
		return -1;
	uint32_t nt = cxr_le_get32(q);
	if (nt > CXR_MODEL_MAX_TENSORS || (uint64_t)nt * 6 > room_from(s, pos)) {
		cxr_seterr("%s: bad tensor count %u", path, nt);
		return -1;
	}
	for (uint32_t i = 0; i < nt; i++) {
		char *name;
		snprintf(what, sizeof what, "tensor %u name", i);
		if (get_str(s, &pos, CXR_MODEL_MAX_NAME, 0, what, &name))
			return -1;
		if (tensor_index(m, name) >= 0) {
			cxr_seterr("%s: duplicate tensor name '%s'", path, name);
			free(name);
			return -1;
		}
		cxr_tensor *t = cxr_xcalloc(1, sizeof *t);
		t->name = name;
		tensor_put(m, t, 0); /* from here, t belongs to m and is freed with it */
		snprintf(what, sizeof what, "tensor '%s' header", name);
		if (!(q = need(s, &pos, 2, what)))
			return -1;
		unsigned dtype = q[0], ndim = q[1];
		if (ndim > CXR_MODEL_MAX_DIMS) {
			cxr_seterr("%s: tensor '%s': %u dimensions (at most %d)", path, name, ndim,
				   CXR_MODEL_MAX_DIMS);
			return -1;
		}
		if (!(q = need(s, &pos, 8 * (size_t)ndim, what)))
			return -1;
		for (unsigned d = 0; d < ndim; d++) {
			uint64_t v = cxr_le_get64(q + 8 * d);
			if (v > CXR_MODEL_MAX_TENSOR_BYTES) {
				cxr_seterr("%s: tensor '%s': dimension %u is %llu, too large", path,
					   name, d, (unsigned long long)v);
				return -1;
			}
			t->dims[d] = (int64_t)v;
		}
		t->dtype = (int)dtype;
		t->ndim = (int)ndim;
		if (tensor_bytes(t->dtype, t->ndim, t->dims, &t->nbytes)) {
			char e[256];
			snprintf(e, sizeof e, "%s", cxr_errmsg());
			cxr_seterr("%s: tensor '%s': %s", path, name, e);
			return -1;
		}
		size_t pad = (ALIGN - pos % ALIGN) % ALIGN;
		snprintf(what, sizeof what, "tensor '%s' data", name);
		if (!(q = need(s, &pos, pad, what)))
			return -1;
		for (size_t k = 0; k < pad; k++)
			if (q[k]) {
				cxr_seterr("%s: tensor '%s': non-zero padding", path, name);
				return -1;
			}
		size_t at = pos;
		if (!need(s, &pos, t->nbytes, what))
			return -1;
		t->data = (void *)(uintptr_t)at;
	}
	/* the checksum, and nothing after it */
	size_t last = pos;
	if (!need(s, &pos, SUMLEN, "checksum"))
		return -1;
	long long extra = (long long)(s->len - pos);
	if (s->sized)
		extra = (long long)(s->limit - pos); /* the frame says how much */
	else if (!s->done) {
		long long more = drain(s, TRAIL_MAX);
		if (more < 0)
			return -1;
		extra += more;
	}
	if (extra > (long long)TRAIL_MAX) {
		cxr_seterr("%s: over %u bytes of trailing data after the last tensor", path,
			   TRAIL_MAX);
		return -1;
	}
	if (extra) {
		cxr_seterr("%s: %lld bytes of trailing data after the last tensor", path, extra);
		return -1;
	}
	*end = last;
	return 0;
}

cxr_model *cxr_model_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return NULL;
	}
	src s = {.path = path, .f = f, .limit = CXR_MODEL_MAX_CONTENT};
	struct stat st;
	if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && st.st_size > 0)
		s.file_size = (size_t)st.st_size;
	s.in_cap = ZSTD_DStreamInSize();
	s.in = cxr_xmalloc(s.in_cap);
	s.zin.src = s.in;
	cxr_model *m = NULL;
	if (read_in(&s))
		goto fail;
	/* the first bytes: a zstd frame, or what the file is instead */
	const unsigned char *h = s.in;
	size_t n = s.zin.size;
	if (n < 4 || memcmp(h, "\x28\xb5\x2f\xfd", 4)) {
		if (n && n < 4 && cxr_is_zstd_start(h, n))
			cxr_seterr("%s: truncated (the zstd frame ends early)", path);
		else
			cxr_seterr("%s: not a model file (%s)", path,
				   cxr_file_kind_what(cxr_file_kind(h, n)));
		goto fail;
	}
	/* the content size, where the frame declares it (and the header is
	 * all there: at most 18 bytes; else the decoder tells what is wrong) */
	unsigned long long fcs = ZSTD_getFrameContentSize(h, n);
	if (fcs == ZSTD_CONTENTSIZE_ERROR && n >= 18) {
		cxr_seterr("%s: bad zstd frame header", path);
		goto fail;
	}
	if (fcs != ZSTD_CONTENTSIZE_ERROR && fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
		if (fcs > CXR_MODEL_MAX_CONTENT) {
			cxr_seterr("%s: content of %llu bytes exceeds the limit of %llu", path, fcs,
				   (unsigned long long)CXR_MODEL_MAX_CONTENT);
			goto fail;
		}
		s.limit = (size_t)fcs;
		s.sized = 1;
	}
	if (!(s.dctx = ZSTD_createDCtx())) {
		cxr_seterr("%s: out of memory", path);
		goto fail;
	}
	/* the magic and version, before anything else is decompressed */
	int got = pull(&s, 8);
	if (got < 0)
		goto fail;
	const unsigned char *p = content_of(&s);
	if (s.len < 4 || memcmp(p, MAGIC, 4)) {
		int kind = s.len >= 4 && !memcmp(p, "CXRS", 4) ? CXR_KIND_STREAM : CXR_KIND_ZSTD;
		cxr_seterr("%s: not a model file (%s)", path, cxr_file_kind_what(kind));
		goto fail;
	}
	if (!got) {
		cxr_seterr("%s: truncated content (%zu bytes)", path, s.len);
		goto fail;
	}
	uint32_t version = cxr_le_get32(p + 4);
	if (version != CXR_MODEL_VERSION) {
		cxr_seterr("%s: model format version %u; this cxr reads version %d", path, version,
			   CXR_MODEL_VERSION);
		goto fail;
	}
	m = cxr_model_new();
	m->path = cxr_xstrdup(path);
	size_t end;
	if (parse(m, &s, &end)) {
		/* A damaged file is better called so than by what it makes the
		 * parse find: read on a little, for zstd's own checks. */
		char e[1024];
		snprintf(e, sizeof e, "%s", cxr_errmsg());
		if (s.bad || s.done || drain(&s, DRAIN_MAX) >= 0)
			cxr_seterr("%s", e);
		goto fail;
	}
	/* the frame is complete (zstd's checksum seen), nothing follows */
	if (!s.done) {
		long long more = drain(&s, 0);
		if (more < 0)
			goto fail;
		if (more) {
			cxr_seterr("%s: trailing data after the last tensor", path);
			goto fail;
		}
	}
	if (nothing_after(&s))
		goto fail;
	p = content_of(&s);
	unsigned char sum[32];
	cxr_sha256_buf(p, end, sum);
	if (memcmp(sum, p + end, SUMLEN)) {
		cxr_seterr("%s: content checksum mismatch (the file is corrupt)", path);
		goto fail;
	}
	/* give back the room grown past the end, then place the tensors */
	if (s.cap > s.len && grow_to(&s, s.len))
		goto fail;
	p = content_of(&s);
	for (int i = 0; i < m->nt; i++)
		m->t[i]->data = (void *)(p + (uintptr_t)m->t[i]->data);
	m->block = s.base;
	s.base = NULL;
	set_digest(m, sum);
	ZSTD_freeDCtx(s.dctx);
	free(s.in);
	fclose(f);
	return m;
fail:
	cxr_model_free(m);
	ZSTD_freeDCtx(s.dctx);
	free(s.base);
	free(s.in);
	fclose(f);
	return NULL;
}
