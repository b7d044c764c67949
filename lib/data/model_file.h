/* model_file — the .cxm file of man/cxr-model.5: a zstd-compressed container
 * of text metadata (key = value) and named tensors, used for models,
 * checkpoints and the PyTorch golden files of the tests.
 *
 * Tensors keep PyTorch's names and layouts (conv weights O,I,kH,kW; dense
 * weights out,in), so a state_dict maps onto a file one to one; the engine
 * converts to its own layout when it loads. */
#ifndef CXR_MODEL_FILE_H
#define CXR_MODEL_FILE_H
#include <stddef.h>
#include <stdint.h>

#define CXR_MODEL_MAX_DIMS 8

/* The format version this build writes and reads (man/cxr-model.5). */
#define CXR_MODEL_VERSION 1
/* zstd level of saved files: fast, and weights compress little anyway. */
#define CXR_MODEL_LEVEL 3
/* Limits that load checks before allocating (and save before writing). */
#define CXR_MODEL_MAX_CONTENT (8ull << 30)       /* decompressed bytes */
#define CXR_MODEL_MAX_TENSOR_BYTES (4ull << 30)  /* one tensor's data */
#define CXR_MODEL_MAX_META 65536
#define CXR_MODEL_MAX_KEY 4096                   /* bytes of a key */
#define CXR_MODEL_MAX_VALUE (1 << 20)            /* bytes of a value */
#define CXR_MODEL_MAX_TENSORS 65536
#define CXR_MODEL_MAX_NAME 4096                  /* bytes of a tensor name */

typedef struct cxr_tensor {
	char *name;
	int dtype;  /* enum cxr_dtype of stream.h: CXR_F32, CXR_U8, ... */
	int ndim;
	int64_t dims[CXR_MODEL_MAX_DIMS];
	void *data; /* owned by the model, or the caller's (cxr_model_add_ref) */
	size_t nbytes;
} cxr_tensor;

typedef struct cxr_model cxr_model;

cxr_model *cxr_model_new(void);
void cxr_model_free(cxr_model *m);

/* Metadata, kept in insertion order; setting a key again replaces it,
 * setting it to NULL removes it. */
void cxr_model_set_meta(cxr_model *m, const char *key, const char *value);
const char *cxr_model_get_meta(const cxr_model *m, const char *key); /* NULL if absent */
int cxr_model_nmeta(const cxr_model *m);
void cxr_model_meta_at(const cxr_model *m, int i, const char **key, const char **value);

/* Adds a zeroed tensor (replacing one of the same name) and returns its
 * data to fill; dims has ndim entries. */
void *cxr_model_add(cxr_model *m, const char *name, int dtype, int ndim, const int64_t *dims);
/* Adds a copy of data. */
void *cxr_model_add_copy(cxr_model *m, const char *name, int dtype, int ndim,
			 const int64_t *dims, const void *data);
/* Adds a tensor whose data stays the caller's: not copied, not freed,
 * and read when the model is saved, so it must live as long as the model
 * (a checkpoint's optimiser state: no copy of it at the training's peak). */
void cxr_model_add_ref(cxr_model *m, const char *name, int dtype, int ndim, const int64_t *dims,
		       const void *data);
/* Removes a tensor; 1 if there was one, else 0. */
int cxr_model_remove(cxr_model *m, const char *name);
/* Pointers returned by find and tensor_at stay valid until that tensor is
 * replaced or removed, or the model freed. Loaded tensors' data is 64-byte
 * aligned. */
const cxr_tensor *cxr_model_find(const cxr_model *m, const char *name); /* NULL if absent */
int cxr_model_ntensors(const cxr_model *m);
const cxr_tensor *cxr_model_tensor_at(const cxr_model *m, int i);
/* Finds a float32 tensor of exactly this shape; NULL with cxr_errmsg() set
 * naming the file, the tensor and the shapes when absent or different. */
const float *cxr_model_expect_f32(const cxr_model *m, const char *name, int ndim,
				  const int64_t *dims);

/* Writes atomically (temp file, fsync, rename). -1 with cxr_errmsg() set. */
int cxr_model_save(const cxr_model *m, const char *path);
/* Reads and checks magic, version, every length against limits, and the
 * checksum; NULL with a message naming the file on any fault. The content
 * is decompressed in steps as it is parsed, the magic and version first:
 * memory follows the bytes that arrive, never a size the file claims, and
 * a file of another kind is named ("m.cxp: not a model file (it is a
 * tensor stream or pack)", data/file_kind.h). */
cxr_model *cxr_model_load(const char *path);
const char *cxr_model_path(const cxr_model *m); /* as loaded, or NULL */
/* A short digest (first 12 hex digits of the file's content checksum),
 * for the scores' model column. */
const char *cxr_model_digest(const cxr_model *m);

#endif
