/* cxr-resize — a manifest (or list) of PNGs to a tensor stream of
 * size x size 8-bit gray images with the manifest's fields (see
 * man/cxr-resize.1). Workers decode and resize; this thread reads the
 * manifest and writes the records in manifest order. */
#include <getopt.h>
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/options.h"
#include "data/imgfind.h"
#include "data/imglist.h"
#include "data/resize_queue.h"
#include "data/stream.h"

struct cmdline {
	int quiet, skip_bad, nthreads;
	long size;
	const char *root, *output, *input;
	/* --max-bad: how many images --skip-bad may skip, as a count or, with
	 * max_bad_pct set, a percentage of the images read */
	double max_bad;
	int max_bad_pct;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-resize [-q] [-j N] [--size N] [--root DIR] [--skip-bad [--max-bad N[%%]]]\n"
		"                  [-o FILE] [MANIFEST|-]\n"
		"\n"
		"Decodes each PNG of a manifest TSV (or of a list of paths, one a line)\n"
		"to 8-bit gray, resizes it by area average to N x N and writes a tensor\n"
		"stream of 1xNxN u8 records carrying the manifest's fields.\n"
		"\n"
		"  -s, --size N      output width and height (default 256)\n"
		"  -r, --root DIR    find each image by its base name below DIR\n"
		"      --skip-bad    skip missing or bad PNGs (counted) instead of failing\n"
		"      --max-bad N[%%] with --skip-bad, fail (exit 1) when more than N\n"
		"                    images, or N%% of them, are bad (default 5%%)\n"
		"  -o, --output FILE write FILE (whole or not at all) instead of stdout\n"
		"  -j, --jobs N      decoding threads (default: all cores; --threads is the same)\n"
		"  -q, --quiet       no progress\n"
		"      --help, --version\n");
}

/* --max-bad N (a count) or N% (a share of the images read). */
static void parse_max_bad(struct cmdline *cl, const char *arg)
{
	size_t n = strlen(arg);
	cl->max_bad_pct = n > 0 && arg[n - 1] == '%';
	char num[64];
	if (n - cl->max_bad_pct >= sizeof num)
		cxr_usage_error("--max-bad: '%s' is not a count or a percentage", arg);
	memcpy(num, arg, n - cl->max_bad_pct);
	num[n - cl->max_bad_pct] = 0;
	cl->max_bad = cl->max_bad_pct ? cxr_parse_double("--max-bad", num, 0, 100)
				      : (double)cxr_parse_long("--max-bad", num, 0, LONG_MAX);
}

/* Whether nbad skipped images of nread are more than --max-bad allows. */
static int too_many_bad(const struct cmdline *cl, long nbad, long nread)
{
	return cl->max_bad_pct ? nbad > cl->max_bad / 100 * nread : nbad > cl->max_bad;
}

static void parse(int argc, char **argv, struct cmdline *cl)
{
	enum { OPT_SKIP = 256, OPT_MAXBAD };
	static const struct option longs[] = {
		{"size", required_argument, 0, 's'}, {"root", required_argument, 0, 'r'},
		{"skip-bad", no_argument, 0, OPT_SKIP}, {"max-bad", required_argument, 0, OPT_MAXBAD}, {"output", required_argument, 0, 'o'},
		CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS, {0, 0, 0, 0}};
	*cl = (struct cmdline){.size = 256, .max_bad = 5, .max_bad_pct = 1};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	int c;
	while ((c = getopt_long(argc, argv, "s:r:o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 's': cl->size = cxr_parse_long("--size", optarg, 1, 8192); break;
		case 'r': cl->root = optarg; break;
		case OPT_SKIP: cl->skip_bad = 1; break;
		case OPT_MAXBAD: parse_max_bad(cl, optarg); break;
		case 'o': cl->output = optarg; break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	cl->nthreads = co.jobs;
	cl->quiet = co.quiet;
	if (argc - optind > 1)
		cxr_usage_error("one manifest at most");
	cl->input = optind < argc ? argv[optind] : NULL;
}

/* Writes one resized image as a record. */
static void put_record(cxr_writer *w, const cxr_resized *r, uint32_t size)
{
	cxr_record rec = {
		.name = "image",
		.meta = r->meta,
		.dtype = CXR_U8,
		.ndim = 3,
		.dims = {1, size, size},
		.data = r->px,
		.nbytes = (size_t)size * size,
	};
	if (cxr_writer_put(w, &rec) < 0)
		cxr_die_err();
}

/* An image missing below --root without --skip-bad: one more pass over
 * the rest of the manifest (names looked up in the root's index, nothing
 * decoded) says how many are missing in all, which tells a wrong --root
 * from one lost file. */
static noreturn void die_missing(cxr_imglist *list, const cxr_sample *first, const char *root,
				 long nread, long nmissing)
{
	char *name = cxr_xstrdup(first->image);
	cxr_sample m;
	cxr_sample_init(&m);
	char *file;
	int k;
	while ((k = cxr_imglist_next(list, &file, &m)) > 0) {
		nread++;
		nmissing += !file;
		free(file);
	}
	if (nmissing == 1 && k == 0)
		cxr_die(CXR_EXIT_DATA, "%s: not found below %s (the only one of %ld images)", name,
			root, nread);
	cxr_die(CXR_EXIT_DATA, "%s: not found below %s; %ld of the %s%ld images are missing there",
		name, root, nmissing, k < 0 ? "first " : "", nread);
}

int main(int argc, char **argv)
{
	struct cmdline cl;
	cxr_init(argc, argv, 0);
	parse(argc, argv, &cl);

	cxr_imgfind *root = NULL;
	struct stat st;
	if (cl.root && stat(cl.root, &st) == 0 && !S_ISDIR(st.st_mode))
		cxr_die(CXR_EXIT_DATA, "%s: --root is not a directory (give the folder the images are below)",
			cl.root);
	if (cl.root && !(root = cxr_imgfind_open(cl.root)))
		cxr_die_err();
	FILE *in = cxr_open_in(cl.input);
	cxr_imglist *list = cxr_imglist_open(in, cl.input, root);
	if (!list)
		cxr_die_err();
	cxr_out *out = cxr_out_open(cl.output, 1);
	cxr_writer *w = cxr_writer_open(cxr_out_file(out), cxr_out_name(out), CXR_STREAM_LEVEL);
	if (!w)
		cxr_die_err();
	uint32_t size = (uint32_t)cl.size;
	cxr_resize_queue *rz = cxr_resize_queue_open(cl.nthreads, size);
	cxr_progress pg;
	cxr_progress_start(&pg, "images", 0, cl.quiet);

	/* Keep the ring full, write the oldest as it is done. A bad
	 * manifest line stops the reading; the images before it are still
	 * written, then it is reported. */
	cxr_resized r = {0};
	cxr_sample m;
	cxr_sample_init(&m);
	char *listerr = NULL;
	long nread = 0, nbad = 0, nout = 0, nmissing = 0;
	int eof = 0;
	for (;;) {
		while (!eof && !cxr_resize_queue_full(rz)) {
			char *file;
			int k = cxr_imglist_next(list, &file, &m);
			if (k <= 0) {
				if (k < 0)
					listerr = cxr_xstrdup(cxr_errmsg());
				eof = 1;
				break;
			}
			nread++;
			char why[1024] = "";
			if (!file) {
				nmissing++;
				if (!cl.skip_bad)
					die_missing(list, &m, cl.root, nread, nmissing);
				snprintf(why, sizeof why, "%s: not found below %s",
					m.image, cl.root);
			} else if (!cl.root && !strchr(file, '/') && access(file, F_OK) && errno == ENOENT)
				snprintf(why, sizeof why,
					 "%s: no such file in the current directory; manifests name "
					 "images by base name: give --root DIR, the folder they are below",
					 file);
			if (*why) {
				free(file);
				file = NULL;
			}
			cxr_resize_queue_put(rz, file, &m, file ? NULL : why);
		}
		if (!cxr_resize_queue_pending(rz))
			break;
		cxr_resize_queue_take(rz, &r);
		if (r.err) {
			if (!cl.skip_bad)
				cxr_die(CXR_EXIT_DATA, "%s", r.err);
			cxr_warn("%s (skipped)", r.err);
			nbad++;
		} else {
			put_record(w, &r, size);
			nout++;
		}
		cxr_progress_update(&pg, nread - cxr_resize_queue_pending(rz));
	}
	cxr_progress_end(&pg);
	if (listerr)
		cxr_die(CXR_EXIT_DATA, "%s", listerr);
	/* Past the limit nothing is committed, and a stream on stdout gets
	 * no end marker: the next tool sees it cut short. */
	if (nbad && too_many_bad(&cl, nbad, nread))
		cxr_die(CXR_EXIT_DATA, "skipped %ld bad image%s of %ld, more than --max-bad %g%s allows%s",
			nbad, nbad == 1 ? "" : "s", nread, cl.max_bad, cl.max_bad_pct ? "%" : "",
			nmissing ? "; is --root the folder the images are below?" : "");
	if (cxr_writer_close(w, 0) < 0)
		cxr_die_err();
	cxr_out_commit(out);
	if (nbad)
		cxr_warn("skipped %ld bad image%s of %ld", nbad, nbad == 1 ? "" : "s", nread);
	cxr_resized_free(&r);
	cxr_sample_free(&m);
	cxr_resize_queue_close(rz);
	cxr_imglist_close(list);
	cxr_imgfind_free(root);
	if (in != stdin)
		fclose(in);
	return 0;
}
