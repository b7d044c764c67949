/* imgfind — cxr-resize's --root: every PNG below a directory, by base name.
 *
 * The NIH download spreads its 112,120 images over images_001/images/ ...
 * images_012/images/; manifests name them by base name only. The walk
 * follows symbolic links (a loop is skipped) and indexes regular files whose
 * name ends in ".png" (any case). Two such files with the same base name
 * make the index fail, naming both, since either could be meant. */
#ifndef CXR_IMGFIND_H
#define CXR_IMGFIND_H
#include <stddef.h>

typedef struct cxr_imgfind cxr_imgfind;

/* Walks root. NULL with cxr_errmsg() set when a directory cannot be read
 * or a name is found twice. */
cxr_imgfind *cxr_imgfind_open(const char *root);
/* The path ("root/.../name") of the image with base name name, or NULL. */
const char *cxr_imgfind_get(const cxr_imgfind *ix, const char *name);
size_t cxr_imgfind_count(const cxr_imgfind *ix);
const char *cxr_imgfind_root(const cxr_imgfind *ix);
void cxr_imgfind_free(cxr_imgfind *ix);

#endif
