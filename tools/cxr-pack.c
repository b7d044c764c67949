/* cxr-pack — turn tensor streams into a packed data set (validated,
 * optionally shuffled, indexed for random access); list or extract one. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/options.h"
#include "run/pack_driver.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-pack [-q] [--shuffle] [--seed S] [--level N] -o FILE [STREAM...]\n"
		"       cxr-pack -t FILE             list records as TSV\n"
		"       cxr-pack -x DIR [-f] FILE    write each record as DIR/<image name>\n"
		"\n"
		"  -o, --output FILE   the pack to write (whole or not at all)\n"
		"      --shuffle       shuffle the records (seeded)\n"
		"      --seed S        shuffle seed (default 1)\n"
		"  -l, --level N       zstd level, 1-19 (default 9)\n"
		"      --allow-duplicates  keep records whose image name repeats\n"
		"  -t, --list          list the records of FILE\n"
		"  -x, --extract DIR   extract FILE's images as 8-bit PNGs into DIR\n"
		"  -f, --force         overwrite existing files with -x\n"
		"  -q, --quiet         no progress\n"
		"      --help, --version\n");
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	cxr_pack_opts o = {.seed = 1, .level = 9};
	const char *out = NULL, *xdir = NULL;
	int list = 0, force = 0;
	enum { OPT_SHUFFLE = 256, OPT_SEED, OPT_DUP };
	cxr_common_opts co = {.jobs = 1};
	static const struct option longs[] = {
		{"output", required_argument, 0, 'o'}, {"shuffle", no_argument, 0, OPT_SHUFFLE},
		{"seed", required_argument, 0, OPT_SEED}, {"level", required_argument, 0, 'l'},
		{"allow-duplicates", no_argument, 0, OPT_DUP}, {"list", no_argument, 0, 't'},
		{"extract", required_argument, 0, 'x'}, {"force", no_argument, 0, 'f'},
		CXR_COMMON_LONGOPTS, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "o:l:tx:f" CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case OPT_SHUFFLE: o.shuffle = 1; break;
		case OPT_SEED: o.seed = (uint64_t)cxr_parse_long("--seed", optarg, 0, LONG_MAX); break;
		case 'l': o.level = (int)cxr_parse_long("--level", optarg, 1, 19); break;
		case OPT_DUP: o.allow_duplicates = 1; break;
		case 't': list = 1; break;
		case 'x': xdir = optarg; break;
		case 'f': force = 1; break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	o.quiet = co.quiet;
	argc -= optind, argv += optind;
	if (list + !!xdir + !!out != 1)
		cxr_usage_error("give exactly one of -o FILE, -t FILE or -x DIR FILE");
	if (list || xdir) {
		if (argc > 1)
			cxr_usage_error("-t and -x take one file");
		const char *in = argc ? argv[0] : "-";
		if (list) {
			if (cxr_pack_driver_list(in, stdout))
				cxr_die_err();
			cxr_out_commit(cxr_out_open(NULL, 0));
		} else if (cxr_pack_driver_extract(in, xdir, force, o.quiet) < 0) {
			cxr_die_err();
		}
		return 0;
	}
	if (!strcmp(out, "-"))
		cxr_usage_error("-o: a pack must be a file (it ends with a seek index)");
	long long n = cxr_pack_driver_build((const char *const *)argv, argc, out, &o);
	if (n < 0)
		cxr_die_err();
	if (cxr_stop_signal)
		cxr_exit_signal();
	if (!o.quiet)
		cxr_warn("%s: %lld records%s", out, n, o.shuffle ? ", shuffled" : "");
	return 0;
}
