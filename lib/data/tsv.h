/* tsv — tab-separated text with a header line, columns found by name
 * (manifests, scores). Fields hold no tabs or newlines; a trailing CR is
 * dropped so files edited on Windows read the same. */
#ifndef CXR_TSV_H
#define CXR_TSV_H
#include <stdio.h>

#include "data/sample.h"

/* 0 if line (len bytes) is text: no NUL byte, valid UTF-8; else -1 with
 * cxr_errmsg() naming path and line. */
int cxr_text_line_check(const char *line, size_t len, const char *path, long lineno);
/* Reads the next line of f into *line (getline's buffer) without its line
 * ending (LF or CRLF) or, on line 1, a UTF-8 byte-order mark, counting
 * *lineno: 1, 0 at the end, -1 on a read error or a line that is not text
 * (cxr_text_line_check) with the message naming path and line. */
int cxr_getline(FILE *f, const char *path, char **line, size_t *cap, long *lineno);

typedef struct cxr_tsv cxr_tsv;
/* Reads the header line. NULL with cxr_errmsg() set on empty input. */
cxr_tsv *cxr_tsv_open(FILE *f, const char *path);
/* The same, when the caller has already read the header line itself. */
cxr_tsv *cxr_tsv_open_with_header(FILE *f, const char *path, const char *header);
int cxr_tsv_ncols(const cxr_tsv *t);
const char *cxr_tsv_colname(const cxr_tsv *t, int i);
int cxr_tsv_col(const cxr_tsv *t, const char *name); /* index, or -1 */
/* Next row: 1, 0 at end, -1 if a row has a different number of fields
 * from the header (message names file and line). Blank lines are skipped. */
int cxr_tsv_next(cxr_tsv *t);
const char *cxr_tsv_field(const cxr_tsv *t, int col);
long cxr_tsv_lineno(const cxr_tsv *t); /* of the current row, 1 = header */
const char *cxr_tsv_path(const cxr_tsv *t);
void cxr_tsv_close(cxr_tsv *t); /* does not fclose */

/* Manifest rows (CXR_MANIFEST_HEADER): finds the columns (only "image" is
 * required; a missing column reads as unknown), then parses each row into
 * m, which the caller frees. -1 with the message naming file, line and
 * column on a bad value. */
typedef struct cxr_manifest_cols { int c[8]; } cxr_manifest_cols;
int cxr_manifest_cols_find(const cxr_tsv *t, cxr_manifest_cols *mc);
int cxr_manifest_row(const cxr_tsv *t, const cxr_manifest_cols *mc, cxr_sample *m);

#endif
