/* dist — see dist.h. */
#include "run/dist.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"

#ifdef CXR_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1;
static double sum_seconds, wait_seconds;

/* The launchers' variables: mpirun (Open MPI), PMIx (srun --mpi=pmix,
 * Open MPI 4 and 5), PMI-1/2 (srun --mpi=pmi2, MPICH). */
static const char *launcher_rank(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

int dist_env_rank(void)
{
	const char *v = launcher_rank();
	return v ? atoi(v) : 0;
}

int dist_rank(void) { return rank_; }
int dist_size(void) { return size_; }
double dist_sum_seconds(void) { return sum_seconds; }
double dist_wait_seconds(void) { return wait_seconds; }

#ifdef CXR_MPI

/* ---- the watchdog ---- */

typedef struct peer {
	char host[64];
	int32_t pid;
} peer;

static int active;
static peer *peers;
static float *seg_in;    /* (N x segment) every rank's copy of mine (dist_sum_f32) */
static size_t seg_cap;
static pthread_t watch_thread;
static int watching;
static volatile int watch_stop;

static void *watch(void *arg)
{
	(void)arg;
	const struct timespec tick = {0, 200 * 1000 * 1000};
	while (!watch_stop) {
		nanosleep(&tick, NULL);
		for (int r = 0; r < size_ && !watch_stop; r++) {
			if (r == rank_ || strcmp(peers[r].host, peers[rank_].host))
				continue;
			if (kill(peers[r].pid, 0) && errno == ESRCH && !watch_stop) {
				/* Nothing of this rank can finish without the other:
				 * end now rather than wait for ever. An output being
				 * written stays a temporary file, which the next run
				 * removes; the last checkpoint is whole. */
				cxr_warn("rank %d (pid %d) ended before the run did; ending rank %d too "
					 "(the last checkpoint is left as it was)", r, (int)peers[r].pid,
					 rank_);
				_exit(CXR_EXIT_DATA);
			}
		}
	}
	return NULL;
}

static void start_watch(void)
{
	peers = cxr_xcalloc((size_t)size_, sizeof *peers);
	peer me = {{0}, (int32_t)getpid()};
	if (gethostname(me.host, sizeof me.host - 1))
		strcpy(me.host, "?");
	dist_allgather(&me, peers, sizeof me);
	if (!pthread_create(&watch_thread, NULL, watch, NULL))
		watching = 1;
}

int dist_init(int *argc, char ***argv)
{
	if (!launcher_rank())
		return 0;
	int provided;
	/* The loader's and OpenMP's threads never call MPI. */
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		cxr_seterr("MPI_Init_thread failed");
		return -1;
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
	MPI_Comm_size(MPI_COMM_WORLD, &size_);
	active = 1;
	if (size_ > 1)
		start_watch();
	return 0;
}

void dist_finish(void)
{
	if (!active)
		return;
	if (watching) {
		watch_stop = 1;
		pthread_join(watch_thread, NULL);
		watching = 0;
	}
	free(peers);
	peers = NULL;
	free(seg_in);
	seg_in = NULL;
	seg_cap = 0;
	MPI_Finalize();
	active = 0;
}

/* MPI counts are ints: big arrays go in pieces. */
#define PIECE (1 << 28)

/* The sum in rank order, ((b0 + b1) + b2) + ..., the order in which one
 * process adds its micro-batches' gradients (--accum), so that -np N and
 * --accum N agree bit for bit at every N; MPI_Allreduce leaves the order
 * to the implementation (Open MPI's differs from it at 4 ranks, and
 * Adam makes a rounding difference in a near-zero gradient a full step).
 * It is the ring's traffic, 2(N-1)/N of the buffer in and out per rank:
 * each rank gathers every rank's copy of its own segment (Alltoallv: a
 * reduce-scatter without the arithmetic), adds them in rank order, and
 * the sums are gathered back (Allgatherv). */
static void sum_piece(float *buf, int n)
{
	int N = size_;
	int *cnt = cxr_xmalloc(4 * (size_t)N * sizeof *cnt), *dsp = cnt + N;
	int *rcnt = cnt + 2 * N, *rdsp = cnt + 3 * N;
	for (int r = 0; r < N; r++) {
		int lo = (int)((long)r * n / N), hi = (int)((long)(r + 1) * n / N);
		cnt[r] = hi - lo, dsp[r] = lo;
	}
	int mine = cnt[rank_];
	for (int r = 0; r < N; r++)
		rcnt[r] = mine, rdsp[r] = r * mine;
	if ((size_t)N * mine > seg_cap) {
		free(seg_in);
		seg_cap = (size_t)N * mine;
		seg_in = cxr_xmalloc(seg_cap * sizeof *seg_in);
	}
	MPI_Alltoallv(buf, cnt, dsp, MPI_FLOAT, seg_in, rcnt, rdsp, MPI_FLOAT, MPI_COMM_WORLD);
	float *out = buf + dsp[rank_];
	memcpy(out, seg_in, (size_t)mine * sizeof *out);
	for (int r = 1; r < N; r++) {
		const float *x = seg_in + (size_t)r * mine;
		for (int i = 0; i < mine; i++)
			out[i] += x[i];
	}
	MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, dsp, MPI_FLOAT,
		       MPI_COMM_WORLD);
	free(cnt);
}

void dist_sum_f32(float *buf, size_t n)
{
	if (size_ < 2)
		return;
	/* The barrier parts waiting for the slowest rank (imbalance, other
	 * load) from the transfer, for the log; it costs microseconds. */
	double t = cxr_now();
	MPI_Barrier(MPI_COMM_WORLD);
	double t1 = cxr_now();
	for (size_t i = 0; i < n; i += PIECE)
		sum_piece(buf + i, n - i < PIECE ? (int)(n - i) : PIECE);
	wait_seconds += t1 - t;
	sum_seconds += cxr_now() - t1;
}

void dist_sum_f64(double *buf, size_t n)
{
	if (size_ < 2)
		return;
	/* small (a loss): every rank's values, added in rank order */
	double *all = cxr_xmalloc((size_t)size_ * n * sizeof *all);
	dist_allgather(buf, all, n * sizeof *buf);
	for (size_t i = 0; i < n; i++) {
		double v = all[i];
		for (int r = 1; r < size_; r++)
			v += all[(size_t)r * n + i];
		buf[i] = v;
	}
	free(all);
}

int dist_max_int(int v)
{
	if (size_ > 1)
		MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return v;
}

int dist_min_int(int v)
{
	if (size_ > 1)
		MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	return v;
}

void dist_bcast(void *buf, size_t bytes)
{
	if (size_ < 2)
		return;
	for (size_t i = 0; i < bytes; i += PIECE) {
		int k = bytes - i < PIECE ? (int)(bytes - i) : PIECE;
		MPI_Bcast((char *)buf + i, k, MPI_BYTE, 0, MPI_COMM_WORLD);
	}
}

void dist_allgather(const void *mine, void *all, size_t bytes)
{
	if (size_ < 2) {
		memmove(all, mine, bytes);
		return;
	}
	if (bytes > PIECE)
		cxr_die(CXR_EXIT_DATA, "dist_allgather: %zu bytes a rank is too many", bytes);
	MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

void dist_allgatherv_f32(const float *mine, float *all, const int *counts)
{
	if (size_ < 2) {
		memmove(all, mine, (size_t)counts[0] * sizeof *all);
		return;
	}
	int *displs = cxr_xmalloc((size_t)size_ * sizeof *displs);
	int d = 0;
	for (int r = 0; r < size_; r++)
		displs[r] = d, d += counts[r];
	MPI_Allgatherv(mine, counts[rank_], MPI_FLOAT, all, counts, displs, MPI_FLOAT,
		       MPI_COMM_WORLD);
	free(displs);
}

void dist_barrier(void)
{
	if (size_ > 1)
		MPI_Barrier(MPI_COMM_WORLD);
}

#else /* no MPI in this build: one rank */

int dist_init(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (launcher_rank() && getenv("OMPI_COMM_WORLD_SIZE") &&
	    atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1) {
		cxr_seterr("started by mpirun with %s ranks, but built without MPI (install "
			   "libopenmpi-dev and rebuild)", getenv("OMPI_COMM_WORLD_SIZE"));
		return -1;
	}
	return 0;
}

void dist_finish(void) {}
void dist_sum_f32(float *buf, size_t n) { (void)buf, (void)n; }
void dist_sum_f64(double *buf, size_t n) { (void)buf, (void)n; }
int dist_max_int(int v) { return v; }
int dist_min_int(int v) { return v; }
void dist_bcast(void *buf, size_t bytes) { (void)buf, (void)bytes; }
void dist_allgather(const void *mine, void *all, size_t bytes) { memmove(all, mine, bytes); }
void dist_allgatherv_f32(const float *mine, float *all, const int *counts)
{
	memmove(all, mine, (size_t)counts[0] * sizeof *all);
}
void dist_barrier(void) {}

#endif
