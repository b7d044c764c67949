/* dist — the one place cxr talks to MPI: data-parallel training over
 * several processes ("ranks"), launched by mpirun or Slurm's srun.
 *
 * Without a launcher (no OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in
 * the environment), or in a build without MPI (CXR_MPI undefined), MPI is
 * never initialised: one rank, every collective a copy or nothing, so a
 * plain cxr-train runs exactly as it did before MPI was linked, results
 * and speed. Only the main thread calls these functions.
 *
 * Failure: an MPI error ends the job (MPI's default handler). A rank
 * that ends early (killed, crashed) while others wait in a collective
 * would leave them waiting for ever on one host, where Open MPI's shared
 * memory sees no broken link: a watchdog thread checks the peers on the
 * same host a few times a second and ends its own rank, with a message,
 * when one is gone, until dist_finish. (Across hosts mpirun ends the job:
 * odls_base_sigkill_timeout seconds, then twice that.) */
#ifndef CXR_DIST_H
#define CXR_DIST_H
#include <stddef.h>

/* Starts MPI when launched by mpirun or srun (argv for MPI_Init_thread);
 * a no-op otherwise. 0, or -1 with cxr_errmsg() set. */
int dist_init(int *argc, char ***argv);
/* This process's rank, 0 .. dist_size() - 1; 0 and 1 without MPI. */
int dist_rank(void);
int dist_size(void);
/* The rank from the launcher's environment, before dist_init (to keep
 * ranks other than 0 quiet about a usage error); 0 without one. */
int dist_env_rank(void);
/* Ends MPI after the last collective every rank makes (all ranks call
 * it); a no-op without MPI. */
void dist_finish(void);

/* Collectives: every rank calls each, in the same order. */
/* buf = the sum over ranks of buf, in place, added in rank order
 * (((b0 + b1) + b2) + ...): the bits a single process adding the ranks'
 * buffers one after another gets, at any number of ranks. */
void dist_sum_f32(float *buf, size_t n);
void dist_sum_f64(double *buf, size_t n);
/* The largest and smallest v over the ranks. */
int dist_max_int(int v);
int dist_min_int(int v);
/* Rank 0's bytes to every rank. */
void dist_bcast(void *buf, size_t bytes);
/* all (size x bytes) = every rank's mine (bytes), in rank order. */
void dist_allgather(const void *mine, void *all, size_t bytes);
/* all = the ranks' mine (counts[r] floats each) one after another. */
void dist_allgatherv_f32(const float *mine, float *all, const int *counts);
void dist_barrier(void);

/* Seconds this rank spent in dist_sum_f32 (the gradient sums) moving and
 * adding data, and before that waiting for the slowest rank to arrive;
 * for the log and the benchmark. */
double dist_sum_seconds(void);
double dist_wait_seconds(void);

#endif
