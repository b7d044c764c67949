/* options — see options.h. */
#include "base/options.h"

#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

void cxr_parse_by(const char *arg, char **column, double *width)
{
	char *s = cxr_xstrdup(arg), *colon = strrchr(s, ':');
	*width = 0;
	if (colon) {
		*colon = 0;
		*width = cxr_parse_double("--by", colon + 1, 1e-9, 1e12);
	}
	if (!*s)
		cxr_usage_error("--by: '%s' names no column", arg);
	*column = s;
}

void cxr_common_option(int c, const char *arg, cxr_common_opts *co, void (*usage)(FILE *))
{
	switch (c) {
	case 'j':
		co->jobs = (int)cxr_parse_long("-j", arg, 1, 1024);
		return;
	case 'q':
		co->quiet = 1;
		return;
	case CXR_OPT_HELP:
		usage(stdout);
		exit(fflush(stdout) ? CXR_EXIT_DATA : CXR_EXIT_OK);
	case CXR_OPT_VERSION:
		cxr_version();
	default:
		/* getopt_long has printed what was wrong ("unrecognized option",
		 * "requires an argument"). */
		cxr_usage_error("unknown option or missing argument");
	}
}
