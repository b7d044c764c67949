/* file_kind — which kind of file some bytes are, from the first of them:
 * the project's own (tensor stream or pack, model file) and the ones most
 * often given by mistake (PNG, JPEG, DICOM, gzip, text, other zstd data),
 * so that a reader refusing a file can say what it is instead:
 *	"train.cxp: not a model file (it is a tensor stream or pack)".
 * Looks at nothing but the bytes it is given, and for zstd data
 * decompresses only the first few bytes of the first frame (one block at
 * most: the time and memory of a zstd bomb's first block, never more). */
#ifndef CXR_FILE_KIND_H
#define CXR_FILE_KIND_H
#include <stddef.h>

enum cxr_file_kind {
	CXR_KIND_OTHER,        /* none of the below: binary data of some kind */
	CXR_KIND_EMPTY,
	CXR_KIND_STREAM,       /* zstd whose content begins "CXRS" (a stream or pack) */
	CXR_KIND_MODEL,        /* zstd whose content begins "CXRM" (a model file) */
	CXR_KIND_ZSTD,         /* zstd of some other content */
	CXR_KIND_ZSTD_CORRUPT, /* zstd that cannot be decompressed */
	CXR_KIND_PNG,
	CXR_KIND_JPEG,
	CXR_KIND_DICOM,        /* "DICM" at byte 128: needs 132 bytes */
	CXR_KIND_GZIP,
	CXR_KIND_TEXT,         /* UTF-8 text without NUL bytes */
};

/* The kind of a file whose first n bytes are head: give up to
 * CXR_KIND_HEAD bytes (fewer only where the file is shorter), enough for
 * a zstd frame's header and first block, the most that zstd needs to
 * yield the content's first bytes. */
#define CXR_KIND_HEAD (132u << 10)
int cxr_file_kind(const void *head, size_t n);
/* The kind of the file at path, from its first CXR_KIND_HEAD bytes
 * (CXR_KIND_OTHER when it cannot be read). */
int cxr_file_kind_of(const char *path);
/* What a message says of the kind, after "not a ... (": "it is a PNG
 * image", "it is a model file", "it is text", ... */
const char *cxr_file_kind_what(int kind);
/* Whether the n bytes at p begin a zstd frame or a skippable frame, or,
 * when n < 4, could begin one. */
int cxr_is_zstd_start(const void *p, size_t n);

#endif
