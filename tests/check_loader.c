/* The training loader: every record once per epoch, in an order fixed by
 * (seed, epoch) that changes from epoch to epoch; a loader started at
 * batch k of an epoch gives the batches a loader that ran from batch 0
 * gives from k on (what --resume relies on); the augmentation stays in
 * [0,1] and depends on its seed only; bad records are errors naming them. */
#include <math.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/loader.h"
#include "base/rng.h"
#include "data/stream.h"
#include "testutil.h"

#define N 23 /* records: 4 batches of 5 and a short one of 3 */
#define B 5
#define H 9
#define W 11

static char dir[64], pack_path[128], bad_path[128], nolabel_path[128];

/* Record k: pixel 0 is k (so a batch says which record it holds), pixel 1
 * white, pixel 2 black, the rest a pattern; label k % 2. */
static void make_record(cxr_record *r, int k, int h, int w, int label)
{
	cxr_record_init(r);
	r->name = cxr_xstrdup("image");
	r->dtype = CXR_U8;
	r->ndim = 3;
	r->dims[0] = 1, r->dims[1] = (uint32_t)h, r->dims[2] = (uint32_t)w;
	r->nbytes = (size_t)h * w;
	r->data = cxr_xmalloc(r->nbytes);
	uint8_t *px = r->data;
	for (int j = 0; j < h * w; j++)
		px[j] = (uint8_t)((k * 37 + j * 11) % 256);
	px[0] = (uint8_t)k, px[1] = 255, px[2] = 0;
	char name[64];
	snprintf(name, sizeof name, "%08d_000.png", k);
	r->meta.image = cxr_xstrdup(name);
	r->meta.label = label;
}

/* A pack of n records; record odd (if >= 0) gets another shape, record
 * unknown (if >= 0) an unknown label. */
static void write_pack(const char *path, int n, int odd, int unknown)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	cxr_writer *w = cxr_writer_open(f, path, 3);
	ck_assert_ptr_nonnull(w);
	for (int k = 0; k < n; k++) {
		cxr_record r;
		make_record(&r, k, H, k == odd ? W + 1 : W, k == unknown ? CXR_LABEL_UNKNOWN : k % 2);
		ck_assert_int_eq(cxr_writer_put(w, &r), 0);
		cxr_record_free(&r);
	}
	ck_assert_int_eq(cxr_writer_close(w, 1), 0);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	snprintf(pack_path, sizeof pack_path, "%s/train.cxp", dir);
	snprintf(bad_path, sizeof bad_path, "%s/shape.cxp", dir);
	snprintf(nolabel_path, sizeof nolabel_path, "%s/nolabel.cxp", dir);
	write_pack(pack_path, N, -1, -1);
	write_pack(bad_path, N, 17, -1);
	write_pack(nolabel_path, N, -1, 12);
}

static void teardown(void)
{
	unlink(pack_path);
	unlink(bad_path);
	unlink(nolabel_path);
	rmdir(dir);
}

/* What one epoch (from batch start on) delivered. */
typedef struct epoch_log {
	long nbatches;
	int n[N];           /* per batch */
	long index[N];      /* records, in order of delivery */
	float x[N * H * W];
	float y[N];
} epoch_log;

static void run_epoch(cxr_loader *l, int epoch, long start, epoch_log *e)
{
	memset(e, 0, sizeof *e);
	cxr_loader_start(l, epoch, start);
	const cxr_batch *b;
	long at = 0;
	int got;
	while ((got = cxr_loader_next(l, &b)) == 1) {
		ck_assert_int_le(at + b->n, N);
		e->n[e->nbatches++] = b->n;
		memcpy(e->index + at, b->index, b->n * sizeof(long));
		memcpy(e->x + at * H * W, b->x, (size_t)b->n * H * W * sizeof(float));
		memcpy(e->y + at, b->y, b->n * sizeof(float));
		at += b->n;
	}
	ck_assert_int_eq(got, 0);
	/* and it stays at the end */
	ck_assert_int_eq(cxr_loader_next(l, &b), 0);
}

static cxr_loader *open_loader(cxr_pack **p, const char *path, uint64_t seed, int shuffle,
			       int augment)
{
	*p = cxr_pack_open(path);
	ck_assert_msg(*p != NULL, "%s", cxr_errmsg());
	cxr_loader_cfg c = {B, seed, shuffle, augment, 1};
	cxr_loader *l = cxr_loader_open(*p, path, &c);
	ck_assert_msg(l != NULL, "%s", cxr_errmsg());
	return l;
}

static int same_order(const epoch_log *a, const epoch_log *b)
{
	return !memcmp(a->index, b->index, sizeof a->index);
}

START_TEST(shape_and_counts)
{
	cxr_pack *p;
	cxr_loader *l = open_loader(&p, pack_path, 1, 1, 0);
	ck_assert_int_eq(cxr_loader_height(l), H);
	ck_assert_int_eq(cxr_loader_width(l), W);
	ck_assert_int_eq(cxr_loader_count(l), N);
	ck_assert_int_eq(cxr_loader_batches(l), (N + B - 1) / B);
	epoch_log *e = malloc(sizeof *e);
	run_epoch(l, 0, 0, e);
	ck_assert_int_eq(e->nbatches, 5);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(e->n[i], B);
	ck_assert_int_eq(e->n[4], N % B);
	free(e);
	cxr_loader_close(l);
	cxr_pack_close(p);
}
END_TEST

/* Each epoch is a permutation of the records, and each sample's pixels
 * and label are its record's. */
START_TEST(every_record_once)
{
	cxr_pack *p;
	cxr_loader *l = open_loader(&p, pack_path, 7, 1, 0);
	epoch_log *e = malloc(sizeof *e);
	for (int epoch = 0; epoch < 4; epoch++) {
		run_epoch(l, epoch, 0, e);
		int seen[N] = {0};
		for (int i = 0; i < N; i++) {
			long k = e->index[i];
			ck_assert(k >= 0 && k < N);
			seen[k]++;
			/* no augmentation: exactly pixel / 255 */
			ck_assert_float_eq_tol(e->x[i * H * W], k / 255.0f, 1e-7);
			ck_assert_float_eq(e->x[i * H * W + 1], 1.0f);
			ck_assert_float_eq(e->x[i * H * W + 2], 0.0f);
			ck_assert_float_eq_tol(e->x[i * H * W + 5], ((k * 37 + 5 * 11) % 256) / 255.0f,
					       1e-7);
			ck_assert_float_eq(e->y[i], (float)(k % 2));
		}
		for (int k = 0; k < N; k++)
			ck_assert_msg(seen[k] == 1, "epoch %d: record %d seen %d times", epoch, k, seen[k]);
	}
	free(e);
	cxr_loader_close(l);
	cxr_pack_close(p);
}
END_TEST

/* Same seed, same orders; another epoch or another seed, another order;
 * without shuffling, the pack's order. */
START_TEST(seeded_orders)
{
	cxr_pack *p1, *p2, *p3, *p4;
	cxr_loader *a = open_loader(&p1, pack_path, 42, 1, 0);
	cxr_loader *b = open_loader(&p2, pack_path, 42, 1, 0);
	cxr_loader *c = open_loader(&p3, pack_path, 43, 1, 0);
	cxr_loader *d = open_loader(&p4, pack_path, 42, 0, 0);
	epoch_log *ea = malloc(sizeof *ea), *eb = malloc(sizeof *eb);
	for (int epoch = 0; epoch < 3; epoch++) {
		run_epoch(a, epoch, 0, ea);
		run_epoch(b, epoch, 0, eb);
		ck_assert_msg(same_order(ea, eb), "epoch %d: same seed, another order", epoch);
		ck_assert(!memcmp(ea->x, eb->x, sizeof ea->x));
		run_epoch(c, epoch, 0, eb);
		ck_assert_msg(!same_order(ea, eb), "epoch %d: seeds 42 and 43 give one order", epoch);
	}
	/* epochs differ, and coming back to an epoch gives its order again */
	run_epoch(a, 0, 0, ea);
	run_epoch(a, 1, 0, eb);
	ck_assert_msg(!same_order(ea, eb), "epochs 0 and 1 have the same order");
	run_epoch(b, 0, 0, eb);
	ck_assert(same_order(ea, eb));
	/* no shuffle: 0, 1, 2, ... in every epoch */
	for (int epoch = 0; epoch < 2; epoch++) {
		run_epoch(d, epoch, 0, ea);
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(ea->index[i], i);
	}
	free(ea);
	free(eb);
	cxr_loader_close(a);
	cxr_loader_close(b);
	cxr_loader_close(c);
	cxr_loader_close(d);
	cxr_pack_close(p1);
	cxr_pack_close(p2);
	cxr_pack_close(p3);
	cxr_pack_close(p4);
}
END_TEST

/* Starting epoch e at batch k (a resumed run) gives what a loader that ran
 * the epoch from its start gives from batch k on: orders, pixels (with
 * augmentation) and labels. The same loader is restarted while its
 * prefetch is in flight too. */
START_TEST(resume_at_batch)
{
	cxr_pack *p1, *p2;
	cxr_loader *a = open_loader(&p1, pack_path, 5, 1, 1);
	cxr_loader *b = open_loader(&p2, pack_path, 5, 1, 1);
	epoch_log *full = malloc(sizeof *full), *part = malloc(sizeof *part);
	for (int epoch = 0; epoch < 3; epoch++) {
		run_epoch(a, epoch, 0, full);
		for (long k = 0; k <= 5; k++) {
			/* b is mid-epoch elsewhere, its next batch prefetched */
			const cxr_batch *bt;
			cxr_loader_start(b, epoch + 1, 1);
			ck_assert_int_eq(cxr_loader_next(b, &bt), 1);
			run_epoch(b, epoch, k, part);
			long skip = k * B < N ? k * B : N;
			ck_assert_int_eq(part->nbatches, 5 - k);
			ck_assert(!memcmp(part->index, full->index + skip, (N - skip) * sizeof(long)));
			ck_assert(!memcmp(part->x, full->x + skip * H * W,
					  (N - skip) * H * W * sizeof(float)));
			ck_assert(!memcmp(part->y, full->y + skip, (N - skip) * sizeof(float)));
		}
	}
	free(full);
	free(part);
	cxr_loader_close(a);
	cxr_loader_close(b);
	cxr_pack_close(p1);
	cxr_pack_close(p2);
}
END_TEST

/* Augmented images stay in [0,1], depend only on the seed, and differ
 * between seeds and from the plain image; the plain one is pixel/255. */
START_TEST(augment_range_and_seed)
{
	enum { h = 32, w = 24 };
	static uint8_t px[h * w];
	static float a[h * w], b[h * w], plain[h * w];
	cxr_rng r;
	cxr_rng_seed(&r, 99);
	for (int img = 0; img < 3; img++) {
		for (int j = 0; j < h * w; j++)
			px[j] = img == 0 ? 255 : img == 1 ? (uint8_t)cxr_rng_below(&r, 256)
							 : (uint8_t)(j % 2 ? 255 : 0);
		cxr_image_to_input(px, h, w, plain, 0, 0);
		for (int j = 0; j < h * w; j++)
			ck_assert_float_eq_tol(plain[j], px[j] / 255.0f, 1e-7);
		for (uint64_t seed = 0; seed < 200; seed++) {
			cxr_image_to_input(px, h, w, a, 1, seed);
			for (int j = 0; j < h * w; j++)
				ck_assert_msg(a[j] >= 0 && a[j] <= 1, "image %d seed %llu: value %g at %d",
					      img, (unsigned long long)seed, a[j], j);
			cxr_image_to_input(px, h, w, b, 1, seed);
			ck_assert(!memcmp(a, b, sizeof a));
			if (img == 1) {
				ck_assert(memcmp(a, plain, sizeof a));
				cxr_image_to_input(px, h, w, b, 1, seed + 1000);
				ck_assert(memcmp(a, b, sizeof a));
			}
		}
	}
}
END_TEST

/* Through the loader: same seed, same augmented batches; another seed,
 * others; and the same order as without augmentation. */
START_TEST(augment_in_loader)
{
	cxr_pack *p1, *p2, *p3, *p4;
	cxr_loader *a = open_loader(&p1, pack_path, 11, 1, 1);
	cxr_loader *b = open_loader(&p2, pack_path, 11, 1, 1);
	cxr_loader *c = open_loader(&p3, pack_path, 12, 1, 1);
	cxr_loader *d = open_loader(&p4, pack_path, 11, 1, 0);
	epoch_log *ea = malloc(sizeof *ea), *eb = malloc(sizeof *eb);
	run_epoch(a, 2, 0, ea);
	run_epoch(b, 2, 0, eb);
	ck_assert(!memcmp(ea, eb, sizeof *ea));
	run_epoch(c, 2, 0, eb);
	ck_assert(memcmp(ea->x, eb->x, sizeof ea->x));
	run_epoch(d, 2, 0, eb);
	ck_assert(same_order(ea, eb));
	ck_assert(memcmp(ea->x, eb->x, sizeof ea->x));
	for (int i = 0; i < N * H * W; i++)
		ck_assert(ea->x[i] >= 0 && ea->x[i] <= 1);
	free(ea);
	free(eb);
	cxr_loader_close(a);
	cxr_loader_close(b);
	cxr_loader_close(c);
	cxr_loader_close(d);
	cxr_pack_close(p1);
	cxr_pack_close(p2);
	cxr_pack_close(p3);
	cxr_pack_close(p4);
}
END_TEST

/* Reads every batch of epoch 0 in order until an error; returns the
 * error message (or NULL). */
static const char *first_error(const char *path, int need_label)
{
	static char msg[1024];
	cxr_pack *p = cxr_pack_open(path);
	ck_assert_ptr_nonnull(p);
	cxr_loader_cfg c = {B, 1, 0, 0, need_label};
	cxr_loader *l = cxr_loader_open(p, path, &c);
	ck_assert_ptr_nonnull(l);
	cxr_loader_start(l, 0, 0);
	const cxr_batch *b;
	int got;
	while ((got = cxr_loader_next(l, &b)) == 1)
		;
	snprintf(msg, sizeof msg, "%s", got < 0 ? cxr_errmsg() : "");
	cxr_loader_close(l);
	cxr_pack_close(p);
	return got < 0 ? msg : NULL;
}

START_TEST(bad_records)
{
	const char *e = first_error(bad_path, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "record 18") && strstr(e, "00000017_000.png") &&
			      strstr(e, "1x9x12") && strstr(e, "1x9x11"),
		      "shape error: %s", e);
	e = first_error(nolabel_path, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "record 13") && strstr(e, "label unknown"), "label error: %s", e);
	/* scoring-style use (need_label 0) takes the unknown label, as NaN */
	ck_assert_ptr_null(first_error(nolabel_path, 0));
	/* an empty pack is refused at open */
	char empty[160];
	snprintf(empty, sizeof empty, "%s/empty.cxp", dir);
	write_pack(empty, 0, -1, -1);
	cxr_pack *p = cxr_pack_open(empty);
	if (p) {
		cxr_loader_cfg c = {B, 1, 0, 0, 1};
		ck_assert_ptr_null(cxr_loader_open(p, empty, &c));
		ck_assert_msg(strstr(cxr_errmsg(), "no records") != NULL, "%s", cxr_errmsg());
		cxr_pack_close(p);
	}
	unlink(empty);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shape_and_counts);
	tcase_add_test(tc, every_record_once);
	tcase_add_test(tc, seeded_orders);
	tcase_add_test(tc, resume_at_batch);
	tcase_add_test(tc, augment_range_and_seed);
	tcase_add_test(tc, augment_in_loader);
	tcase_add_test(tc, bad_records);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
