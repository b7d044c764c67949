/* options — the command-line options every tool shares, parsed in one
 * place so they mean the same everywhere:
 *   -j, --jobs N      threads (--threads is the same option)
 *   -q, --quiet       no progress or summary on stderr
 *       --help        usage on stdout, exit 0
 *       --version     "tool VERSION" on stdout, exit 0
 * A tool puts CXR_COMMON_LONGOPTS (and CXR_JOBS_LONGOPTS if it takes -j)
 * in its option table and CXR_COMMON_SHORTOPTS ("q", plus "j:") in its
 * short string, handles its own options, and passes everything else to
 * cxr_common_option, which also turns an unknown option into a usage
 * error (exit 2). */
#ifndef CXR_OPTIONS_H
#define CXR_OPTIONS_H
#include <getopt.h>
#include <stdio.h>

enum { CXR_OPT_HELP = 0x1000, CXR_OPT_VERSION }; /* past any tool's own */

#define CXR_COMMON_SHORTOPTS "q"
#define CXR_JOBS_SHORTOPTS "j:"
#define CXR_COMMON_LONGOPTS                                                         \
	{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, CXR_OPT_HELP},     \
	{"version", no_argument, 0, CXR_OPT_VERSION}
#define CXR_JOBS_LONGOPTS                                                           \
	{"jobs", required_argument, 0, 'j'}, {"threads", required_argument, 0, 'j'}

typedef struct cxr_common_opts {
	int jobs;  /* -j; the tool sets its default (usually cxr_ncores()) */
	int quiet; /* -q */
} cxr_common_opts;

/* Handles option c (getopt_long's return) with argument arg: -j and -q
 * into co, --help (usage(stdout), exit 0), --version (exit 0); any other
 * c is a usage error. */
void cxr_common_option(int c, const char *arg, cxr_common_opts *co, void (*usage)(FILE *));

/* --by COLUMN[:WIDTH] (cxr-bias, cxr-report): *column a malloc'd copy,
 * *width the bucket width, 0 without one. A bad width or an empty column
 * is a usage error. */
void cxr_parse_by(const char *arg, char **column, double *width);

#endif
