/* gzin — input that may be gzip-compressed, read as if it were not.
 * NIH's label file is often kept as Data_Entry_2017_v2020.csv.gz; the
 * tools that read text take it as it is, compressed or not (zlib's gzread
 * passes uncompressed bytes through unchanged). */
#ifndef CXR_GZIN_H
#define CXR_GZIN_H
#include <stdio.h>

/* Opens path (NULL or "-": stdin) for reading through zlib; dies naming
 * the file when it cannot. A read error, or gzip data that ends early or
 * fails its check, sets the stream's error flag with errno EIO, and
 * cxr_gzin_error() says what was wrong. */
FILE *cxr_gzin_open(const char *path);
/* After a read error on a stream from cxr_gzin_open: zlib's sentence
 * ("unexpected end of file"), or the system's. */
const char *cxr_gzin_error(FILE *f);

#endif
