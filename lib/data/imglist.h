/* imglist — the images cxr-resize is asked for, in input order: either a
 * manifest TSV (a header line whose first field is "image"; columns found
 * by name) or a bare list of PNG paths, one a line.
 *
 * Manifest: each row's image field is a path relative to the current
 * directory, or, with a root index, a base name looked up below the root (a
 * name with a '/' is then refused). The record keeps the manifest's fields.
 * Bare list: each line is a path (with a root index, a base name, as
 * above); the record's image name is the base name, everything else
 * unknown. Blank lines are skipped and a trailing CR is dropped. */
#ifndef CXR_IMGLIST_H
#define CXR_IMGLIST_H
#include <stdio.h>

#include "data/imgfind.h"
#include "data/sample.h"

typedef struct cxr_imglist cxr_imglist;

/* Reads the first line to tell a manifest from a list. root may be NULL.
 * NULL with cxr_errmsg() set on a read error or a bad header. Empty input
 * is an empty list. */
cxr_imglist *cxr_imglist_open(FILE *f, const char *path, const cxr_imgfind *root);
/* The next image: returns 1 and sets *file (malloc'd, to be freed) and m
 * (freed first), 0 at the end, -1 with cxr_errmsg() set on a bad line
 * (naming file and line). *file is NULL when the image is not found below
 * the root: a missing image is the caller's to report or skip, like an
 * unreadable one. */
int cxr_imglist_next(cxr_imglist *l, char **file, cxr_sample *m);
int cxr_imglist_is_manifest(const cxr_imglist *l);
void cxr_imglist_close(cxr_imglist *l); /* does not fclose */

#endif
