/* cxr-resize — a manifest (or list) of PNGs to a tensor stream of
 * size x size 8-bit gray images with the manifest's fields (see
 * man/cxr-resize.1). Workers decode and resize; this thread reads the
 * manifest and writes the records in manifest order. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-resize [-q] [-j N] [--size N] [--root DIR] [--skip-bad] [-o FILE] [MANIFEST|-]\n"
		"\n"
		"Decodes each PNG of a manifest TSV (or of a list of paths, one a line)\n"
		"to 8-bit gray, resizes it by area average to N x N and writes a tensor\n"
		"stream of 1xNxN u8 records carrying the manifest's fields.\n"
		"\n"
		"  -s, --size N      output width and height (default 256)\n"
		"  -r, --root DIR    find each image by its base name below DIR\n"
		"      --skip-bad    skip missing or bad PNGs (counted) instead of failing\n"
		"  -o, --output FILE write FILE (whole or not at all) instead of stdout\n"
		"  -j, --jobs N      decoding threads (default: all cores; --threads is the same)\n"
		"  -q, --quiet       no progress\n"
		"      --help, --version\n");
}

static void parse(int argc, char **argv, struct cmdline *cl)
{
	enum { OPT_SKIP = 256 };
	static const struct option longs[] = {
		{"size", required_argument, 0, 's'}, {"root", required_argument, 0, 'r'},
		{"skip-bad", no_argument, 0, OPT_SKIP}, {"output", required_argument, 0, 'o'},
		CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS, {0, 0, 0, 0}};
	*cl = (struct cmdline){.size = 256};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	int c;
	while ((c = getopt_long(argc, argv, "s:r:o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 's': cl->size = cxr_parse_long("--size", optarg, 1, 8192); break;
		case 'r': cl->root = optarg; break;
		case OPT_SKIP: cl->skip_bad = 1; break;
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

int main(int argc, char **argv)
{
	struct cmdline cl;
	cxr_init(argc, argv, 0);
	parse(argc, argv, &cl);

	cxr_imgfind *root = NULL;
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
	long nread = 0, nbad = 0, nout = 0;
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
			if (!file)
				snprintf(why, sizeof why, "%s: not found below %s",
					m.image, cl.root);
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
