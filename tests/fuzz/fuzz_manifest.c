/* fuzz_manifest — the manifest TSV reader (lib/data/tsv.h) and the image
 * lists of cxr-resize (lib/data/imglist.h: a manifest or a bare list of
 * paths), from a FILE without a descriptor. Each input is read three ways:
 * as an image list with names taken as paths, as one looked up below a
 * --root (a directory of this process with two PNG names in it), and as a
 * TSV with a header whose manifest rows are parsed wherever the "image"
 * column is. Rows that parse are printed back (cxr_sample_print). */
#include <sys/stat.h>

#include "data/imgfind.h"
#include "data/imglist.h"
#include "data/tsv.h"
#include "fuzz.h"

static cxr_imgfind *root;
static FILE *devnull;
static char root_dir[4096];

static void remove_root(void)
{
	char p[4200];
	const char *names[] = {"sub/b.png", "a.png", "sub", ""};
	cxr_imgfind_free(root);
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", root_dir, names[i]);
		remove(p);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	snprintf(root_dir, sizeof root_dir, "%s/cxr-fuzz-root.XXXXXX", fuzz_tmpdir());
	if (!devnull || !mkdtemp(root_dir))
		abort();
	char p[4200];
	snprintf(p, sizeof p, "%s/sub", root_dir);
	mkdir(p, 0700);
	const char *files[] = {"a.png", "sub/b.png"};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", root_dir, files[i]);
		FILE *f = fopen(p, "w");
		if (f)
			fclose(f);
	}
	root = cxr_imgfind_open(root_dir);
	if (!root)
		abort();
	atexit(remove_root);
	return 0;
}

static void read_list(const uint8_t *data, size_t size, const cxr_imgfind *ix)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_imglist *l = cxr_imglist_open(f, "fuzz.tsv", ix);
	if (!l) {
		fuzz_touch_str(cxr_errmsg());
		fclose(f);
		return;
	}
	(void)cxr_imglist_is_manifest(l);
	cxr_sample m;
	cxr_sample_init(&m);
	char *file;
	int rc;
	while ((rc = cxr_imglist_next(l, &file, &m)) == 1) {
		if (!m.image || (!ix && !file))
			abort();
		fuzz_touch_str(file);
		cxr_sample_print(devnull, &m);
		free(file);
	}
	if (rc < 0)
		fuzz_touch_str(cxr_errmsg());
	cxr_sample_free(&m);
	cxr_imglist_close(l);
	fclose(f);
}

static void read_tsv(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_tsv *t = cxr_tsv_open(f, "fuzz.tsv");
	if (!t) {
		fuzz_touch_str(cxr_errmsg());
		fclose(f);
		return;
	}
	int nc = cxr_tsv_ncols(t);
	for (int i = 0; i < nc; i++)
		if (cxr_tsv_col(t, cxr_tsv_colname(t, i)) < 0)
			abort();
	cxr_manifest_cols mc;
	int manifest = cxr_manifest_cols_find(t, &mc) == 0;
	cxr_sample m;
	cxr_sample_init(&m);
	while (cxr_tsv_next(t) == 1) {
		for (int i = 0; i < nc; i++)
			fuzz_touch_str(cxr_tsv_field(t, i));
		if (manifest && cxr_manifest_row(t, &mc, &m) == 0)
			cxr_sample_print(devnull, &m);
	}
	cxr_sample_free(&m);
	cxr_tsv_close(t);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_list(data, size, NULL);
	read_list(data, size, root);
	read_tsv(data, size);
	return 0;
}
