/* nihcsv — NIH ChestX-ray14 label files (Data_Entry_2017_v2020.csv, the
 * 2017 file with its trailing empty column, Kaggle's sample_labels.csv)
 * read through libcsv into manifest rows (cxr_sample).
 *
 * Columns are found by header name, case-insensitively: "Image Index",
 * "Finding Labels" and "Patient ID" are required; "Follow-up #",
 * "Patient Age", "Patient Gender" (or "Patient Sex") and "View Position"
 * read as unknown when absent. Other columns are ignored, so the header's
 * bracketed commas ("OriginalImage[Width,Height]") need no special case:
 * they split the header into as many fields as each row has.
 *
 * A malformed row is an error naming file and line: a field count other
 * than the header's (a row may omit the fields under trailing empty header
 * names, or carry them empty), an empty image name, a patient id or
 * follow-up number that is not a non-negative integer, an image named
 * twice, a tab or line break in a field that goes to the manifest, or a
 * CSV quoting error. Impossible values (an age that does not parse, below 0
 * or above 120; a sex other than M or F) are warned about and read as
 * unknown. */
#ifndef CXR_NIHCSV_H
#define CXR_NIHCSV_H
#include <stdio.h>

#include "data/sample.h"

typedef struct cxr_nihcsv cxr_nihcsv;

enum {
	CXR_NIHCSV_SKIP_BAD = 1, /* skip malformed rows (warned, counted) */
	CXR_NIHCSV_QUIET = 2,    /* no warnings on stderr (still counted) */
};

/* Reads the header from f (not closed by the reader); path names f in
 * messages. NULL with cxr_errmsg() set on empty input, a CSV error in the
 * header or a missing required column. */
cxr_nihcsv *cxr_nihcsv_open(FILE *f, const char *path, int flags);
/* The next row into m (cxr_sample_free'd first, so m may be reused; it must
 * have been initialised). 1 a row, 0 at the end, -1 on a malformed row,
 * a quoting error or a read error, with cxr_errmsg() naming file and line.
 * With CXR_NIHCSV_SKIP_BAD malformed rows are skipped; quoting and read
 * errors are still -1 (an unclosed quote swallows the rows after it). */
int cxr_nihcsv_next(cxr_nihcsv *r, cxr_sample *m);
/* Line of the row last returned (1 = header; a row spanning lines
 * counts from its first line). */
long cxr_nihcsv_lineno(const cxr_nihcsv *r);
/* Rows returned, malformed rows skipped, impossible values warned about. */
long cxr_nihcsv_nrows(const cxr_nihcsv *r);
long cxr_nihcsv_nskipped(const cxr_nihcsv *r);
long cxr_nihcsv_nwarnings(const cxr_nihcsv *r);
void cxr_nihcsv_close(cxr_nihcsv *r);

/* Warnings and skipped rows beyond this many are counted, not printed. */
#define CXR_NIHCSV_MAXWARN 10

#endif
