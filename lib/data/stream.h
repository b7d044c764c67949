/* stream — the tensor stream of man/cxr-stream.5: records (a named tensor
 * plus its sample's metadata) in zstd frames, one frame per record, with
 * an end marker carrying the count, and in packed files a seek index.
 *
 * Reading works through a pipe (no seek), several streams concatenated read
 * as one, and every failure names the file and the record. */
#ifndef CXR_STREAM_H
#define CXR_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/sample.h"

enum cxr_dtype { CXR_U8 = 1, CXR_U16 = 2, CXR_F32 = 3 };
#define CXR_MAX_DIMS 4
/* Limits checked before any allocation. */
#define CXR_MAX_TENSOR_BYTES (256u << 20) /* 256 MiB */
#define CXR_MAX_STRING 4096

typedef struct cxr_record {
	char *name;  /* tensor name, e.g. "image" */
	cxr_sample meta;
	int dtype;   /* enum cxr_dtype */
	int ndim;
	uint32_t dims[CXR_MAX_DIMS]; /* e.g. {1, 256, 256}: C, H, W */
	void *data;  /* dims product x dtype size bytes, row-major */
	size_t nbytes;
} cxr_record;

void cxr_record_init(cxr_record *r);
void cxr_record_free(cxr_record *r); /* frees name, meta and data; then init */
size_t cxr_dtype_size(int dtype);
const char *cxr_dtype_name(int dtype);
/* "1x256x256" */
void cxr_shape_str(const cxr_record *r, char *buf, size_t n);
/* Whether r is a one-channel u8 image: dims 1xHxW (with flat set, HxW as
 * well) of height h and width w, each where it is > 0 (0: any). When it is
 * not and why is not NULL, why gets r's dtype and shape for the caller's
 * message, e.g. "f32 2x2x3". */
int cxr_record_is_gray(const cxr_record *r, int h, int w, int flat, char *why, size_t n);

/* Writer. level: zstd level (CXR_STREAM_LEVEL by default for pipes).
 * path is only used in messages. Returns NULL with cxr_errmsg() set. */
#define CXR_STREAM_LEVEL 3
typedef struct cxr_writer cxr_writer;
cxr_writer *cxr_writer_open(FILE *f, const char *path, int level);
/* Appends one record; -1 on a write error. */
int cxr_writer_put(cxr_writer *w, const cxr_record *r);
/* Writes the end marker (and, with index set, the seek index, which needs
 * f to be a regular file written from offset 0); frees w. Only for a
 * stream that is whole: its end marker tells a reader nothing is missing. */
int cxr_writer_close(cxr_writer *w, int index);
/* Frees w and writes nothing more: no end marker, so that a reader of what
 * was written (through a pipe, say) sees a stream cut short, never a
 * shorter whole one. Every failure path calls this, not close. NULL is
 * allowed. */
void cxr_writer_abort(cxr_writer *w);
uint64_t cxr_writer_count(const cxr_writer *w);

/* Sequential reader. Where f has a file descriptor the reader reads it
 * directly (so records are decoded as soon as they arrive through a pipe):
 * f must not have been read through stdio before. Memory follows the bytes
 * that arrive, never a length read from the input: a record's header is
 * checked (shape against the chunk length) before its tensor is taken, and
 * the tensor's buffer grows as its bytes are decompressed. An input that
 * is not a stream is named for what it is ("not a tensor stream (it is a
 * model file)", file_kind.h). */
typedef struct cxr_reader cxr_reader;
cxr_reader *cxr_reader_open(FILE *f, const char *path);
/* Reads the next record into r (freeing what r held). Returns 1 for a
 * record, 0 at a clean end (every stream closed by its end marker), -1 on
 * error (truncation, checksum, bad header, limits) with cxr_errmsg() set,
 * naming the file and the record number. */
int cxr_reader_next(cxr_reader *rd, cxr_record *r);
uint64_t cxr_reader_count(const cxr_reader *rd); /* records read so far */
void cxr_reader_close(cxr_reader *rd); /* does not fclose f */

/* Random access to a file written with an index (cxr-pack output). Open
 * checks the index (every entry inside the file, in order, not
 * overlapping) and both ends of the stream it indexes: the stream header
 * before the first record and the end marker, with the right count, after
 * the last, as a sequential reader would; NULL with cxr_errmsg() naming
 * the file if any is wrong, or if the file is no pack. */
typedef struct cxr_pack cxr_pack;
cxr_pack *cxr_pack_open(const char *path);
uint64_t cxr_pack_count(const cxr_pack *p);
/* Reads record k (0-based). Thread-safe: each call uses its own read
 * (pread) and decompression context. */
int cxr_pack_get(cxr_pack *p, uint64_t k, cxr_record *r);
void cxr_pack_close(cxr_pack *p);

#endif
