/* model_file — the .cxm container of man/cxr-model.5.
 *
 * The content (what `zstd -d` shows) is
 *	"CXRM" u32 version
 *	u32 nmeta   { u32 len, key, u32 len, value }
 *	u32 ntensor { u32 len, name, u8 dtype, u8 ndim, u64 dims[ndim],
 *		      zeros to a multiple of 64, data }
 *	SHA-256 of all the above (32 bytes)
 * in one zstd frame. A loaded file is kept as one 64-byte aligned block
 * and its tensors point into it, so loading copies nothing after the
 * decompression; tensors added later own their memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/cli.h"
#include "base/le.h"
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

void *cxr_model_add(cxr_model *m, const char *name, int dtype, int ndim, const int64_t *dims)
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
	t->data = cxr_xcalloc(1, nbytes ? nbytes : 1);
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
	char *out;         /* compressed bytes */
	size_t nout, capout;
	size_t err;        /* a zstd error code, 0 if none */
} sink;

static void sink_zstd(sink *s, const void *p, size_t n, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		if (s->capout - s->nout < ZSTD_CStreamOutSize()) {
			s->capout = 2 * s->capout + ZSTD_CStreamOutSize();
			s->out = cxr_xrealloc(s->out, s->capout);
		}
		ZSTD_outBuffer out = {s->out, s->capout, s->nout};
		size_t r = ZSTD_compressStream2(s->cctx, &out, &in, end);
		s->nout = out.pos;
		if (ZSTD_isError(r)) {
			s->err = r;
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
	if (s->cctx && !s->err && n)
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
	if (s->cctx && !s->err)
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
	s.cctx = ZSTD_createCCtx();
	if (!s.cctx) {
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
	int rc = -1;
	if (s.err)
		cxr_seterr("%s: zstd: %s", path, ZSTD_getErrorName(s.err));
	else
		rc = cxr_write_file_atomic(path, s.out, s.nout);
	free(s.out);
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

/* Aligned, growable output buffer for the decompressed content. */
static void *grow(void *old, size_t used, size_t cap)
{
	void *p = NULL;
	if (posix_memalign(&p, ALIGN, cap ? cap : ALIGN))
		return NULL;
	if (used)
		memcpy(p, old, used);
	free(old);
	return p;
}

/* Decompresses the one zstd frame of f into *content (*len bytes).
 * 0, or -1 with the error set. */
static int inflate_file(FILE *f, const char *path, void **content, size_t *len)
{
	size_t inCap = ZSTD_DStreamInSize();
	unsigned char *in = cxr_xmalloc(inCap);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	unsigned char *out = NULL;
	size_t cap = 0, used = 0;
	int rc = -1, first = 1;
	size_t r = 1; /* zstd's hint: 0 once the frame is complete */
	if (!dctx) {
		cxr_seterr("%s: out of memory", path);
		goto done;
	}
	for (;;) {
		size_t n = fread(in, 1, inCap, f);
		if (ferror(f)) {
			cxr_seterr("%s: read error: %s", path, strerror(errno));
			goto done;
		}
		if (first) {
			first = 0;
			/* a zstd frame's magic, 28 b5 2f fd; not a skippable frame */
			if (n < 4 || in[0] != 0x28 || in[1] != 0xb5 || in[2] != 0x2f || in[3] != 0xfd) {
				cxr_seterr(n ? "%s: not a cxr model file (not zstd-compressed)"
					     : "%s: empty file, not a cxr model",
					   path);
				goto done;
			}
			unsigned long long fcs = ZSTD_getFrameContentSize(in, n);
			if (fcs == ZSTD_CONTENTSIZE_ERROR) {
				cxr_seterr("%s: bad zstd frame header", path);
				goto done;
			}
			if (fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
				if (fcs > CXR_MODEL_MAX_CONTENT) {
					cxr_seterr("%s: content of %llu bytes exceeds the limit of %llu",
						   path, fcs, (unsigned long long)CXR_MODEL_MAX_CONTENT);
					goto done;
				}
				cap = (size_t)fcs + 1; /* +1: an overlong frame shows */
			} else {
				cap = 1 << 20;
			}
			if (!(out = grow(NULL, 0, cap))) {
				cxr_seterr("%s: out of memory (%zu bytes)", path, cap);
				goto done;
			}
		}
		if (n == 0)
			break;
		/* all of the input, then what zstd still holds while the
		 * output is full */
		ZSTD_inBuffer ib = {in, n, 0};
		while (ib.pos < ib.size || (r != 0 && used == cap)) {
			if (ib.pos < ib.size && r == 0) {
				cxr_seterr("%s: trailing data after the zstd frame", path);
				goto done;
			}
			if (used == cap) {
				if (cap >= CXR_MODEL_MAX_CONTENT) {
					cxr_seterr("%s: content exceeds the limit of %llu bytes", path,
						   (unsigned long long)CXR_MODEL_MAX_CONTENT);
					goto done;
				}
				size_t ncap = cap * 2 > CXR_MODEL_MAX_CONTENT ? CXR_MODEL_MAX_CONTENT
									     : cap * 2;
				unsigned char *p = grow(out, used, ncap);
				if (!p) {
					cxr_seterr("%s: out of memory (%zu bytes)", path, ncap);
					goto done;
				}
				out = p;
				cap = ncap;
			}
			ZSTD_outBuffer ob = {out, cap, used};
			r = ZSTD_decompressStream(dctx, &ob, &ib);
			used = ob.pos;
			if (ZSTD_isError(r)) {
				cxr_seterr("%s: corrupt zstd data: %s", path, ZSTD_getErrorName(r));
				goto done;
			}
		}
	}
	if (first) {
		cxr_seterr("%s: empty file, not a cxr model", path);
		goto done;
	}
	if (r != 0) {
		cxr_seterr("%s: truncated (the zstd frame ends early)", path);
		goto done;
	}
	*content = out;
	*len = used;
	out = NULL;
	rc = 0;
done:
	free(out);
	free(in);
	ZSTD_freeDCtx(dctx);
	return rc;
}

/* The next n bytes of the content, or NULL with the error set. */
static const unsigned char *need(cxr_le_cursor *c, size_t n, const char *path,
				 const char *what)
{
	const unsigned char *q = cxr_le_take(c, n);
	if (!q)
		cxr_seterr("%s: truncated content: %s runs past the end (offset %zu)", path, what,
			   c->pos);
	return q;
}

/* A length-prefixed UTF-8 string of 1..max bytes (0..max with allow_empty),
 * duplicated into *s. */
static int get_str(cxr_le_cursor *c, const char *path, size_t max, int allow_empty,
		   const char *what, char **s)
{
	const unsigned char *q = need(c, 4, path, what);
	if (!q)
		return -1;
	uint32_t n = cxr_le_get32(q);
	if (n > max || (!n && !allow_empty)) {
		cxr_seterr("%s: %s: length %u not in %d..%zu", path, what, n, !allow_empty, max);
		return -1;
	}
	if (!(q = need(c, n, path, what)))
		return -1;
	if (!utf8_valid(q, n)) {
		cxr_seterr("%s: %s: not valid UTF-8 (or contains NUL)", path, what);
		return -1;
	}
	*s = cxr_xmalloc((size_t)n + 1);
	memcpy(*s, q, n);
	(*s)[n] = 0;
	return 0;
}

/* Builds m's metadata and tensors from the checked content. */
static int parse(cxr_model *m, const unsigned char *p, size_t len, const char *path)
{
	cxr_le_cursor c = {p, 8, len - SUMLEN, 0};
	char what[CXR_MODEL_MAX_NAME + 64];
	const unsigned char *q;
	if (!(q = need(&c, 4, path, "metadata count")))
		return -1;
	uint32_t nmeta = cxr_le_get32(q);
	if (nmeta > CXR_MODEL_MAX_META || (uint64_t)nmeta * 8 > cxr_le_left(&c)) {
		cxr_seterr("%s: bad metadata count %u", path, nmeta);
		return -1;
	}
	for (uint32_t i = 0; i < nmeta; i++) {
		char *k = NULL, *v = NULL;
		snprintf(what, sizeof what, "metadata entry %u key", i);
		if (get_str(&c, path, CXR_MODEL_MAX_KEY, 0, what, &k))
			return -1;
		snprintf(what, sizeof what, "metadata '%.200s' value", k);
		if (get_str(&c, path, CXR_MODEL_MAX_VALUE, 1, what, &v)) {
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
	if (!(q = need(&c, 4, path, "tensor count")))
		return -1;
	uint32_t nt = cxr_le_get32(q);
	if (nt > CXR_MODEL_MAX_TENSORS || (uint64_t)nt * 6 > cxr_le_left(&c)) {
		cxr_seterr("%s: bad tensor count %u", path, nt);
		return -1;
	}
	for (uint32_t i = 0; i < nt; i++) {
		char *name;
		snprintf(what, sizeof what, "tensor %u name", i);
		if (get_str(&c, path, CXR_MODEL_MAX_NAME, 0, what, &name))
			return -1;
		cxr_tensor *t = cxr_xcalloc(1, sizeof *t);
		t->name = name;
		/* from here, t belongs to m and is freed with it */
		if (tensor_index(m, name) >= 0) {
			cxr_seterr("%s: duplicate tensor name '%s'", path, name);
			free(name);
			free(t);
			return -1;
		}
		tensor_put(m, t, 0);
		snprintf(what, sizeof what, "tensor '%s' header", name);
		if (!(q = need(&c, 2, path, what)))
			return -1;
		unsigned dtype = q[0], ndim = q[1];
		if (ndim > CXR_MODEL_MAX_DIMS) {
			cxr_seterr("%s: tensor '%s': %u dimensions (at most %d)", path, name, ndim,
				   CXR_MODEL_MAX_DIMS);
			return -1;
		}
		if (!(q = need(&c, 8 * (size_t)ndim, path, what)))
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
		size_t pad = (ALIGN - c.pos % ALIGN) % ALIGN;
		snprintf(what, sizeof what, "tensor '%s' data", name);
		if (!(q = need(&c, pad, path, what)))
			return -1;
		for (size_t k = 0; k < pad; k++)
			if (q[k]) {
				cxr_seterr("%s: tensor '%s': non-zero padding", path, name);
				return -1;
			}
		if (!(q = need(&c, t->nbytes, path, what)))
			return -1;
		t->data = (void *)q;
	}
	if (c.pos != c.end) {
		cxr_seterr("%s: %zu bytes of trailing data after the last tensor", path,
			   c.end - c.pos);
		return -1;
	}
	return 0;
}

cxr_model *cxr_model_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return NULL;
	}
	void *content = NULL;
	size_t len = 0;
	int rc = inflate_file(f, path, &content, &len);
	fclose(f);
	if (rc)
		return NULL;
	const unsigned char *p = content;
	if (len < 4 || memcmp(p, MAGIC, 4)) {
		cxr_seterr("%s: not a cxr model file (bad magic)", path);
		free(content);
		return NULL;
	}
	if (len < 12 + SUMLEN) {
		cxr_seterr("%s: truncated content (%zu bytes)", path, len);
		free(content);
		return NULL;
	}
	uint32_t version = cxr_le_get32(p + 4);
	if (version != CXR_MODEL_VERSION) {
		cxr_seterr("%s: model format version %u; this cxr reads version %d", path, version,
			   CXR_MODEL_VERSION);
		free(content);
		return NULL;
	}
	unsigned char sum[32];
	cxr_sha256_buf(p, len - SUMLEN, sum);
	if (memcmp(sum, p + len - SUMLEN, SUMLEN)) {
		cxr_seterr("%s: content checksum mismatch (the file is corrupt)", path);
		free(content);
		return NULL;
	}
	cxr_model *m = cxr_model_new();
	m->block = content;
	m->path = cxr_xstrdup(path);
	if (parse(m, p, len, path)) {
		cxr_model_free(m);
		return NULL;
	}
	set_digest(m, sum);
	return m;
}
