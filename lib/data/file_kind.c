/* file_kind — see file_kind.h. */
#include "data/file_kind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

int cxr_is_zstd_start(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n >= 4)
		return !memcmp(b, zstd_magic, 4) ||
		       ((b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18);
	/* a prefix of either magic */
	int z = !memcmp(b, zstd_magic, n), s = 1;
	static const unsigned char skip[4] = {0x50, 0x2a, 0x4d, 0x18};
	for (size_t i = 0; i < n; i++)
		s &= i ? b[i] == skip[i] : (b[0] & 0xf0) == 0x50;
	return z || s;
}

/* UTF-8 text with no control characters but tab, newline, CR, form feed
 * and escape; a sequence cut by the end of head counts as text. */
static int is_text(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)
				return 0;
			if (c == 0x7f)
				return 0;
			i++;
			continue;
		}
		size_t k = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
		if (!k || c == 0xc0 || c == 0xc1 || c > 0xf4)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n)
				return 1; /* cut at the end of head */
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		}
		i += k + 1;
	}
	return 1;
}

/* The first bytes of a zstd frame's content: STREAM, MODEL, ZSTD or
 * ZSTD_CORRUPT. Decodes at most the first block. */
static int zstd_kind(const unsigned char *p, size_t n)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		return CXR_KIND_ZSTD;
	/* the window a stream reader allows; larger is not ours anyway */
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
	unsigned char out[4];
	ZSTD_inBuffer in = {p, n, 0};
	ZSTD_outBuffer o = {out, sizeof out, 0};
	int kind = CXR_KIND_ZSTD;
	/* a few calls: a skippable frame first, then the frame header, then
	 * the first block */
	for (int i = 0; i < 8 && o.pos < sizeof out && in.pos < in.size; i++) {
		size_t r = ZSTD_decompressStream(d, &o, &in);
		if (ZSTD_isError(r)) {
			kind = CXR_KIND_ZSTD_CORRUPT;
			break;
		}
		if (r == 0 && o.pos < sizeof out)
			break; /* a frame of fewer than 4 bytes */
	}
	ZSTD_freeDCtx(d);
	if (o.pos == sizeof out) {
		if (!memcmp(out, "CXRS", 4))
			return CXR_KIND_STREAM;
		if (!memcmp(out, "CXRM", 4))
			return CXR_KIND_MODEL;
	}
	return kind;
}

int cxr_file_kind(const void *head, size_t n)
{
	const unsigned char *p = head;
	if (!n)
		return CXR_KIND_EMPTY;
	if (n >= 4 && cxr_is_zstd_start(p, n))
		return zstd_kind(p, n);
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return CXR_KIND_PNG;
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return CXR_KIND_JPEG;
	if (n >= 132 && !memcmp(p + 128, "DICM", 4))
		return CXR_KIND_DICOM;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return CXR_KIND_GZIP;
	if (is_text(p, n < 4096 ? n : 4096))
		return CXR_KIND_TEXT;
	return CXR_KIND_OTHER;
}

int cxr_file_kind_of(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return CXR_KIND_OTHER;
	unsigned char *head = malloc(CXR_KIND_HEAD);
	size_t n = 0;
	while (head && n < CXR_KIND_HEAD) {
		ssize_t got = read(fd, head + n, CXR_KIND_HEAD - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	int kind = head ? cxr_file_kind(head, n) : CXR_KIND_OTHER;
	free(head);
	return kind;
}

const char *cxr_file_kind_what(int kind)
{
	switch (kind) {
	case CXR_KIND_EMPTY: return "it is empty";
	case CXR_KIND_STREAM: return "it is a tensor stream or pack";
	case CXR_KIND_MODEL: return "it is a model file";
	case CXR_KIND_ZSTD: return "it is zstd-compressed, but not by the cxr tools";
	case CXR_KIND_ZSTD_CORRUPT: return "it is corrupt zstd-compressed data";
	case CXR_KIND_PNG: return "it is a PNG image";
	case CXR_KIND_JPEG: return "it is a JPEG image";
	case CXR_KIND_DICOM: return "it is a DICOM file";
	case CXR_KIND_GZIP: return "it is gzip-compressed";
	case CXR_KIND_TEXT: return "it is text";
	default: return "it is not zstd-compressed";
	}
}
