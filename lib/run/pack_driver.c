/* pack_driver — see pack_driver.h. */
#include "run/pack_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/png.h"
#include "base/rng.h"
#include "data/stream.h"
#include "base/strset.h"

/* ---- build ---- */

typedef struct first_shape {
	int set, dtype, ndim;
	uint32_t dims[CXR_MAX_DIMS];
	char where[512];
} first_shape;

static int same_shape(first_shape *fs, const cxr_record *r, const char *where)
{
	if (!fs->set) {
		fs->set = 1;
		fs->dtype = r->dtype;
		fs->ndim = r->ndim;
		memcpy(fs->dims, r->dims, sizeof fs->dims);
		snprintf(fs->where, sizeof fs->where, "%s", where);
		return 1;
	}
	if (fs->dtype != r->dtype || fs->ndim != r->ndim)
		return 0;
	for (int i = 0; i < r->ndim; i++)
		if (fs->dims[i] != r->dims[i])
			return 0;
	return 1;
}

long long cxr_pack_driver_build(const char *const *inputs, int ninputs, const char *out,
			 const cxr_pack_opts *o)
{
	static const char *stdin_only[] = {"-"};
	if (!ninputs) {
		inputs = stdin_only;
		ninputs = 1;
	}
	/* Shuffling needs every record before writing the first: they wait in
	 * a spool file beside the output (fast level), read back by index. */
	char spool[PATH_MAX] = "";
	int spool_slot = -1;
	cxr_out *dst = o->shuffle ? NULL : cxr_out_open(out, 1);
	FILE *spool_f = NULL;
	if (o->shuffle) {
		snprintf(spool, sizeof spool, "%s.spool.XXXXXX", out);
		int fd = mkstemp(spool);
		if (fd < 0) {
			cxr_seterr("%s: cannot create spool file: %s", out, strerror(errno));
			return -1;
		}
		spool_f = fdopen(fd, "wb");
		spool_slot = cxr_tmp_track(spool);
	}
	cxr_writer *w = cxr_writer_open(o->shuffle ? spool_f : cxr_out_file(dst),
					o->shuffle ? spool : out, o->shuffle ? 1 : o->level);
	cxr_strset names = {0};
	first_shape fs = {0};
	cxr_record r;
	cxr_record_init(&r);
	cxr_progress prog;
	cxr_progress_start(&prog, "records", 0, o->quiet);
	long long n = 0, rc = -1;
	if (!w)
		goto fail;
	for (int i = 0; i < ninputs; i++) {
		FILE *f = cxr_open_in(inputs[i]);
		cxr_reader *rd = cxr_reader_open(f, inputs[i]);
		int got;
		while ((got = cxr_reader_next(rd, &r)) == 1) {
			char where[512];
			snprintf(where, sizeof where, "%s: record %llu (%s)", cxr_name(inputs[i]),
				 (unsigned long long)cxr_reader_count(rd), r.meta.image);
			if (!same_shape(&fs, &r, where)) {
				char a[64], b[64];
				cxr_record tmp = {.ndim = fs.ndim};
				memcpy(tmp.dims, fs.dims, sizeof fs.dims);
				cxr_shape_str(&r, a, sizeof a);
				cxr_shape_str(&tmp, b, sizeof b);
				cxr_seterr("%s: %s %s differs from %s %s of %s", where,
					   cxr_dtype_name(r.dtype), a, cxr_dtype_name(fs.dtype), b,
					   fs.where);
				got = -2;
				break;
			}
			int added = 1;
			if (!o->allow_duplicates)
				cxr_strset_add(&names, r.meta.image, &added);
			if (!added) {
				cxr_seterr("%s: image name seen before (a pack holds each image once)",
					   where);
				got = -2;
				break;
			}
			if (cxr_writer_put(w, &r)) {
				got = -2;
				break;
			}
			cxr_progress_update(&prog, ++n);
			if (cxr_stop_signal)
				break;
		}
		cxr_reader_close(rd);
		if (f != stdin)
			fclose(f);
		if (got < 0)
			goto fail;
	}
	cxr_progress_end(&prog);
	if (!o->shuffle)
		goto finish;
	if (cxr_writer_close(w, 1) || fflush(spool_f) || fclose(spool_f)) {
		spool_f = NULL;
		goto fail_closed;
	}
	spool_f = NULL;
	cxr_pack *sp = cxr_pack_open(spool);
	if (!sp)
		goto fail_closed;
	uint64_t *order = cxr_xmalloc((n ? (size_t)n : 1) * sizeof *order);
	for (long long k = 0; k < n; k++)
		order[k] = (uint64_t)k;
	cxr_rng rng;
	cxr_rng_seed(&rng, o->seed);
	cxr_rng_shuffle(&rng, order, (uint64_t)n);
	dst = cxr_out_open(out, 1);
	w = cxr_writer_open(cxr_out_file(dst), out, o->level);
	cxr_progress_start(&prog, "shuffled records", n, o->quiet);
	for (long long k = 0; k < n; k++) {
		if (!w || cxr_pack_get(sp, order[k], &r) || cxr_writer_put(w, &r)) {
			free(order);
			cxr_pack_close(sp);
			goto fail;
		}
		cxr_progress_update(&prog, k + 1);
	}
	cxr_progress_end(&prog);
	free(order);
	cxr_pack_close(sp);
finish:
	if (cxr_writer_close(w, 1))
		goto fail_closed;
	cxr_out_commit(dst);
	rc = n;
	goto done;
fail:
	/* No end marker: a reader of what was written (through a pipe or a
	 * FIFO, where nothing can be taken back) sees a stream cut short,
	 * never a shorter whole one. */
	cxr_writer_abort(w);
fail_closed:
	cxr_progress_end(&prog);
	if (dst)
		cxr_out_abort(dst);
	if (spool_f)
		fclose(spool_f);
done:
	if (spool[0])
		unlink(spool);
	cxr_tmp_untrack(spool_slot);
	cxr_record_free(&r);
	cxr_strset_free(&names);
	return rc;
}

/* ---- list ---- */

int cxr_pack_driver_list(const char *path, FILE *out)
{
	FILE *f = cxr_open_in(path);
	cxr_reader *rd = cxr_reader_open(f, path);
	cxr_record r;
	cxr_record_init(&r);
	fputs(CXR_MANIFEST_HEADER "\tshape\n", out);
	int got;
	while ((got = cxr_reader_next(rd, &r)) == 1) {
		char shape[64];
		cxr_shape_str(&r, shape, sizeof shape);
		cxr_sample_print(out, &r.meta);
		fprintf(out, "\t%s\n", shape);
	}
	cxr_record_free(&r);
	cxr_reader_close(rd);
	if (f != stdin)
		fclose(f);
	return got < 0 ? -1 : 0;
}

/* ---- extract ---- */

/* An image name is a plain file name: no directory part, not "." or "..",
 * so nothing is written outside the directory. */
static int safe_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

long long cxr_pack_driver_extract(const char *path, const char *dir, int force, int quiet)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		cxr_seterr("%s: %s", dir, strerror(errno));
		return -1;
	}
	FILE *f = cxr_open_in(path);
	cxr_reader *rd = cxr_reader_open(f, path);
	cxr_record r;
	cxr_record_init(&r);
	cxr_progress prog;
	cxr_progress_start(&prog, "images", 0, quiet);
	long long n = 0;
	int got;
	while ((got = cxr_reader_next(rd, &r)) == 1) {
		unsigned long long k = cxr_reader_count(rd);
		const char *name = r.meta.image ? r.meta.image : "";
		if (!safe_name(name)) {
			cxr_seterr("%s: record %llu: image name '%s' would be written outside %s",
				   cxr_name(path), k, name, dir);
			got = -1;
			break;
		}
		if (!cxr_record_is_gray(&r, 0, 0, 1, NULL, 0)) {
			cxr_seterr("%s: record %llu (%s): not a 1-channel u8 image", cxr_name(path),
				   k, name);
			got = -1;
			break;
		}
		char file[PATH_MAX];
		snprintf(file, sizeof file, "%s/%s", dir, name);
		if (!force && access(file, F_OK) == 0) {
			cxr_seterr("%s: exists (use -f to overwrite)", file);
			got = -1;
			break;
		}
		cxr_out *o = cxr_out_open(file, 1);
		if (cxr_png_write_gray(cxr_out_file(o), file, r.data, r.dims[r.ndim - 1],
				       r.dims[r.ndim - 2], 6)) {
			cxr_out_abort(o);
			got = -1;
			break;
		}
		cxr_out_commit(o);
		cxr_progress_update(&prog, ++n);
	}
	cxr_progress_end(&prog);
	cxr_record_free(&r);
	cxr_reader_close(rd);
	if (f != stdin)
		fclose(f);
	return got < 0 ? -1 : n;
}
