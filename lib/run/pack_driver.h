/* pack_driver — what cxr-pack does: build a packed data set from streams
 * (validated, optionally shuffled, indexed), list it, extract it as PNGs. */
#ifndef CXR_PACK_DRIVER_H
#define CXR_PACK_DRIVER_H
#include <stdint.h>
#include <stdio.h>

typedef struct cxr_pack_opts {
	int shuffle;
	uint64_t seed;
	int level;   /* zstd level of the pack */
	int quiet;
	int allow_duplicates;
} cxr_pack_opts;

/* Reads every record of the streams (NULL or "-" is stdin), checks that
 * each decodes, that all share one dtype and shape and that no image name
 * repeats, and writes them (shuffled if asked) with a seek index to out,
 * a file (the records go through a spool file beside it when shuffling,
 * so memory stays bounded). Returns the record count, or -1. */
long long cxr_pack_driver_build(const char *const *inputs, int ninputs, const char *out,
			 const cxr_pack_opts *o);

/* One TSV line per record: the manifest columns, then shape. */
int cxr_pack_driver_list(const char *path, FILE *out);

/* Writes each record as dir/<image name>, an 8-bit gray PNG. Refuses an
 * image name that would leave dir, and an existing file unless force. */
long long cxr_pack_driver_extract(const char *path, const char *dir, int force, int quiet);

#endif
