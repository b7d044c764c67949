#!/bin/sh
# precision — issue 10's table in one run: cxr in fp32 and bf16 next to
# PyTorch's best fp32 and best bf16 (autocast) modes, on ResNet-50 at width
# 1 on 1x256x256 images: training at batch 16, scoring at batch 8 and 1.
# cxr runs as users run it, whole cxr-train and cxr-score processes on a
# synthetic data set made by cxr-synth, cxr-split, cxr-resize and cxr-pack
# (as pipelines/demo.mk makes its packs and streams); PyTorch through
# bench/torch_resnet_bench.py (each variant its own process, the best
# reported and named).
#
#	sh bench/precision.sh  [THREADS=2] [STEPS=12] [SKIP=2] [IMAGES=64]
#	                       [TORCH_ITERS=3] [PRECISIONS="fp32 bf16"] [KEEP=DIR]
#	                       [ROUNDS=1]
#	                       [WIDTH=1] [SIZE=256]  (other sizes: for trying it out)
#
# How each figure is taken:
# - cxr-train --precision P -j THREADS --batch 16 --width 1 --max-steps
#   STEPS on a pack of STEPS*16 images (one epoch, so no epoch-end
#   checkpoint falls inside the timing). Each line of its --step-log is
#   stamped as it appears with the time and the process's CPU time
#   (/proc/PID/stat, all threads): img_per_s is the 16*(STEPS-SKIP) images
#   of the steps after the first SKIP over the time between those lines,
#   img_per_cpu_s the same images over the CPU time between them.
# - cxr-score --precision P -j THREADS --batch B on a stream of IMAGES
#   images, fed through a pipe, its score lines stamped likewise as they
#   appear (a batch's lines come out together): steady state is the images
#   after the first 8 (one batch of 8, eight of 1) over the time and CPU
#   time from the line of image 8 to the last. whole_img_per_s is the
#   whole process's: IMAGES over the time from its start to its last line,
#   less the time of a run that only loads the model (the same command on
#   an empty stream).
# - PyTorch: torch_resnet_bench.py --precision P, modes train:16 (warm-up 2
#   steps, TORCH_ITERS timed), infer:8 and infer:1 (at least IMAGES
#   images timed after warm-up), its img_per_s and img_per_cpu_s; every
#   variant also with tcmalloc preloaded where libtcmalloc-minimal4 is
#   installed (PyTorch's tuning guides advise it; glibc's malloc cost its
#   training 3.8x here), the fastest reported.
# - peak_rss_mb: /usr/bin/time's %M of each cxr process; PyTorch's
#   getrusage of each variant's process.
# - GFLOP/s: cxr's FLOP count per image (cxr-train's log line for
#   training, bench/bin/resnet_bench's gflops/img_per_s for inference: the
#   direct convolutions' count, so Winograd's saving shows as a higher
#   effective rate) times the rate; the same count for PyTorch, which runs
#   the same network. The peaks: a microbenchmark compiled here times
#   independent vdpbf16ps and vfmadd231ps chains (512-bit where the CPU
#   has AVX512_BF16; else 256-bit vfmadd231ps alone, where it has AVX2
#   and FMA) in THREADS threads at once, per thread CPU second, and the
#   clock by a chain of dependent adds; it is set beside /proc/cpuinfo's
#   MHz. Each engine's rate is given against both peaks (the bf16 one
#   '-' where there is none). resnet_bench's sgemm and own-gemm ceilings
#   (fp32, large product) are printed too.
# - The load average at the start and the end: the machine may be shared.
#   On a busy machine the wall-time rates are what is left over; the
#   per-CPU-second rates hold.
#
# - ROUNDS=N runs the whole set (cxr, then PyTorch, per precision) N times
#   over, so that each round's pair meets the same hour of a machine
#   whose speed drifts (a shared virtual machine's swung 20-50% between
#   runs an hour apart): the table then gives each figure's median over
#   the rounds, each ratio as the median of the rounds' own ratios, and a
#   line per round with that round's ratios.
#
# OpenMP settings are left as the environment has them, for both.
# A run takes 10 to 20 minutes on 2 cores. Needs `make all bench-bin`,
# /usr/bin/time and /usr/bin/python3 (with torch for PyTorch's columns,
# else they read '-').
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH; export PATH
threads=${THREADS:-2} steps=${STEPS:-12} skip=${SKIP:-2} nscore=${IMAGES:-64}
titers=${TORCH_ITERS:-3} precisions=${PRECISIONS:-fp32 bf16} rounds=${ROUNDS:-1}
width=${WIDTH:-1} size=${SIZE:-256}
batch=16 warm_img=8 py=/usr/bin/python3
[ "$steps" -gt "$skip" ] || { echo "precision.sh: STEPS must exceed SKIP" >&2; exit 2; }
[ "$rounds" -ge 1 ] 2>/dev/null || { echo "precision.sh: ROUNDS must be 1 or more" >&2; exit 2; }
[ "$nscore" -gt "$warm_img" ] || { echo "precision.sh: IMAGES must exceed $warm_img" >&2; exit 2; }
for f in "$top/bin/cxr-train" "$top/bin/cxr-score" "$top/bench/bin/resnet_bench" /usr/bin/time; do
	[ -x "$f" ] || { echo "precision.sh: $f is missing (make all bench-bin)" >&2; exit 1; }
done
if [ -n "${KEEP:-}" ]; then
	tmp=$KEEP
	mkdir -p "$tmp"
else
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxr-precision.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
fi
# the tools are copied first, so that a rebuild in the tree while this runs
# (the tree may be shared) cannot mix two versions in one table
mkdir -p "$tmp/bin"
cp "$top/bin/cxr-synth" "$top/bin/cxr-split" "$top/bin/cxr-resize" "$top/bin/cxr-pack" \
	"$top/bin/cxr-train" "$top/bin/cxr-score" "$top/bench/bin/resnet_bench" "$tmp/bin/"
PATH=$tmp/bin:$PATH
tree=$(cd "$top" && git describe --always --dirty 2>/dev/null || echo unknown)
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

# stamp PIDFILE FILE: the lines of FILE (followed while the process of
# PIDFILE lives), each as "seconds cpu_seconds line", cpu_seconds the
# process's user+system time when the line was seen.
# stamp PIDFILE - N DONE: the same for the standard input; once N lines
# other than the header (image...) are out, create the file DONE.
cat > "$tmp/stamp.py" <<'EOF'
import os, sys, time
tck = os.sysconf("SC_CLK_TCK")
pidfile, path = sys.argv[1], sys.argv[2]
pid = None
def cpu():
    global pid
    try:
        if pid is None:
            pid = int(open(pidfile).read())
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return "%.2f" % ((int(f[11]) + int(f[12])) / tck)
    except (OSError, ValueError):
        return "nan"
def out(line):
    sys.stdout.write("%.4f\t%s\t%s" % (time.time(), cpu(), line))
    sys.stdout.flush()
if path == "-":
    n, k = int(sys.argv[3]), 0
    for line in iter(sys.stdin.readline, ""):
        out(line)
        if not line.startswith("image\t"):
            k += 1
            if k == n:
                open(sys.argv[4], "w").close()
    sys.exit(0)
for _ in range(3000):  # the process starts
    if os.path.exists(pidfile):
        break
    time.sleep(0.02)
buf, pos = "", 0
while True:
    alive = os.path.exists("/proc/%d" % pid) if pid else os.path.exists(pidfile)
    if pid is None and alive:
        cpu()
    try:
        with open(path) as f:
            f.seek(pos)
            new = f.read()
            pos = f.tell()
    except OSError:
        new = ""
    buf += new
    while "\n" in buf:
        line, buf = buf.split("\n", 1)
        out(line + "\n")
    if not alive and not new:
        break
    time.sleep(0.02)
EOF

# 1. the data: STEPS*16 training images in a pack, IMAGES test images in a
# stream, at 256x256, and an empty stream for the load-only run
ntrain=$((steps * batch)) nsynth=$((steps * batch + nscore + nscore / 2 + 60))
echo "# making the data: $nsynth synthetic images at 256x256 ..." >&2
cxr-synth -q -j "$threads" --images "$nsynth" --size 256 --seed 1 -o "$tmp/synth"
cxr-split -q --train "$ntrain" --val 8 --test "$nscore" --seed 1 -o "$tmp/split" \
	"$tmp/synth/Data_Entry_2017_v2020.csv"
cxr-resize -q -j "$threads" --size "$size" --root "$tmp/synth" "$tmp/split/train.tsv" |
	cxr-pack -q --shuffle --seed 1 -o "$tmp/train.cxp"
cxr-resize -q -j "$threads" --size "$size" --root "$tmp/synth" -o "$tmp/test.cxs" "$tmp/split/test.tsv"
head -n 1 "$tmp/split/test.tsv" > "$tmp/empty.tsv"
cxr-resize -q -j 1 --size "$size" -o "$tmp/empty.cxs" "$tmp/empty.tsv"
rm -rf "$tmp/synth"

# 2. the FLOP counts and ceilings, and the peak of the bf16 dot product
echo "# FLOP count and gemm ceilings (resnet_bench) ..." >&2
resnet_bench -j "$threads" -W "$width" -s "$size" -t - -i 1 -r 1 -P fp32 > "$tmp/rb.tsv"
infer_gflop=$(awk -F'\t' '$1 == "infer" { printf "%.4f", $6 / $3 }' "$tmp/rb.tsv")
sgemm=$(awk -F'\t' '$1 == "#" && $4 == "sgemm" { print $7; exit }' "$tmp/rb.tsv")
owngemm=$(awk -F'\t' '$1 == "#" && $4 ~ /^gemm/ { print $4 " " $7; exit }' "$tmp/rb.tsv")

cat > "$tmp/peak.c" <<'EOF'
/* the peak of vdpbf16ps (where compiled for AVX512_BF16) and of
 * vfmadd231ps (512-bit with AVX-512, else 256-bit AVX2+FMA) per thread
 * CPU second, in argv[1] threads at once, and the clock by a chain of
 * dependent adds. Each loop keeps ACC independent accumulators, more than
 * the FMA latency times the FMA units, so it runs at the units' rate;
 * the operand passes through an empty asm each round, so the compiler can
 * neither hoist the products nor fold the chains into one. */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
/* independent chains: as many as the registers hold beside the operands
 * (32 with AVX-512, 16 with AVX2) */
#ifdef __AVX512F__
#define ACC 16
#else
#define ACC 12
#endif
static double tcpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}
static volatile float sink;
#ifdef __AVX512BF16__
static double bf16(long n)
{
	__m512 acc[ACC];
	for (int i = 0; i < ACC; i++)
		acc[i] = _mm512_setzero_ps();
	__m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
	__m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(1e-3f));
	double t = tcpu();
	for (long r = 0; r < n; r++) {
#pragma GCC unroll 16 /* the accumulators in registers */
		for (int i = 0; i < ACC; i++)
			acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
		__asm__ volatile("" : "+v"(a));
	}
	t = tcpu() - t;
	for (int i = 1; i < ACC; i++)
		acc[0] = _mm512_add_ps(acc[0], acc[i]);
	sink = _mm512_reduce_add_ps(acc[0]);
	return 64.0 * ACC * n / t / 1e9; /* 32 products and 32 sums each */
}
#else
static double bf16(long n)
{
	(void)n;
	return NAN;
}
#endif
#ifdef __AVX512F__
typedef __m512 vec;
#define VZERO _mm512_setzero_ps
#define VSET _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define LANES 16
#else
typedef __m256 vec;
#define VZERO _mm256_setzero_ps
#define VSET _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VADD _mm256_add_ps
#define LANES 8
#endif
static double fp32(long n)
{
	vec acc[ACC];
	for (int i = 0; i < ACC; i++)
		acc[i] = VZERO();
	vec a = VSET(1e-3f), b = VSET(2e-3f);
	double t = tcpu();
	for (long r = 0; r < n; r++) {
#pragma GCC unroll 16 /* the accumulators in registers */
		for (int i = 0; i < ACC; i++)
			acc[i] = VFMA(a, b, acc[i]);
		__asm__ volatile("" : "+x"(a));
	}
	t = tcpu() - t;
	for (int i = 1; i < ACC; i++)
		acc[0] = VADD(acc[0], acc[i]);
	float f[LANES];
	__builtin_memcpy(f, &acc[0], sizeof f);
	sink = f[0];
	return 2.0 * LANES * ACC * n / t / 1e9;
}
static double ghz(long n)
{
	long x = 0;
	double t = tcpu();
	for (long r = 0; r < n; r++)
		__asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
				 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
				 : "+r"(x));
	return 8.0 * n / (tcpu() - t) / 1e9;
}
static double res[64][3];
static void *work(void *p)
{
	double *r = p;
	for (int k = 0; k < 3; k++) { /* the best of three (bf16: NAN where not built) */
		double b = bf16(20000000), f = fp32(20000000), g = ghz(100000000);
		r[0] = isnan(b) || b > r[0] ? b : r[0], r[1] = f > r[1] ? f : r[1];
		r[2] = g > r[2] ? g : r[2];
	}
	return NULL;
}
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	pthread_t t[64];
	n = n < 1 ? 1 : n > 64 ? 64 : n;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, work, res[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		printf("%d\t%.1f\t%.1f\t%.3f\n", i, res[i][0], res[i][1], res[i][2]);
	}
	return 0;
}
EOF
# the widest the CPU has: AVX-512 with bf16, else AVX2 with FMA (fp32 only)
peak_ok=0 peak_flags=
if grep -qw avx512_bf16 /proc/cpuinfo; then
	peak_flags="-mavx512f -mavx512bf16"
elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
	peak_flags="-mavx2 -mfma"
fi
if [ -n "$peak_flags" ] &&
	${CC:-cc} -O2 $peak_flags -pthread -o "$tmp/peak" "$tmp/peak.c" -lm 2> "$tmp/peak.err"; then
	echo "# peak microbenchmark ..." >&2
	"$tmp/peak" "$threads" > "$tmp/peak.tsv" && peak_ok=1
fi
mhz=$(awk -F: '/^cpu MHz/ { printf "%.0f", $2; exit }' /proc/cpuinfo)

# 3. cxr: training, then scoring at batch 8 and 1, per precision
cxr_train() { # P
	p=$1 d=$tmp/train-$1
	# fresh: a checkpoint left in a KEEP directory by an earlier run would
	# make cxr-train resume it (and time nothing)
	rm -rf "$d"
	mkdir -p "$d"
	echo "# cxr-train --precision $p ..." >&2
	rm -f "$d/pid"
	/usr/bin/time -f '%e %U %S %M' -o "$d/time" sh -c 'echo $$ > "$0"; exec "$@"' "$d/pid" \
		cxr-train -q --precision "$p" -j "$threads" --batch "$batch" --width "$width" \
		--max-steps "$steps" --step-log "$d/steps.tsv" -o "$d/m.cxm" "$tmp/train.cxp" &
	tpid=$!
	"$py" "$tmp/stamp.py" "$d/pid" "$d/steps.tsv" > "$d/stamped.tsv"
	wait "$tpid" || { echo "precision.sh: cxr-train --precision $p failed" >&2; return 1; }
	# fields: seconds cpu step epoch loss lr
	awk -F'\t' -v s="$skip" -v n="$steps" -v b="$batch" '
		$3 == s { t0 = $1; c0 = $2 } $3 == n { t1 = $1; c1 = $2 }
		END { if (t1 <= t0 || c1 <= c0) exit 1
			printf "%.3f\t%.3f\n", b * (n - s) / (t1 - t0), b * (n - s) / (c1 - c0) }' \
		"$d/stamped.tsv" > "$d/rate" ||
		{ echo "precision.sh: cxr-train's steps $skip and $steps were not seen apart as its step log grew ($d/stamped.tsv)" >&2; return 1; }
	train_gflop=$(sed -n 's/.* \([0-9.e+]*\) GFLOP per image.*/\1/p' "$d/m.cxm.log" | head -n 1)
}
cxr_score() { # P B
	p=$1 b=$2 d=$tmp/score-$1-$2
	rm -rf "$d"
	mkdir -p "$d"
	echo "# cxr-score --precision $p --batch $b ..." >&2
	m=$tmp/train-$p/m.cxm
	/usr/bin/time -f '%e %U %S %M' -o "$d/load.time" \
		cxr-score -q --precision "$p" -j "$threads" --batch "$b" -m "$m" "$tmp/empty.cxs" > /dev/null
	rm -f "$d/pid" "$d/done"
	t0=$(date +%s.%N)
	# the input stays open until the last line is out, so that the
	# process is still there to have its CPU time read
	{ cat "$tmp/test.cxs"; i=0; while [ ! -e "$d/done" ] && [ $i -lt 3000 ]; do
		sleep 0.05; i=$((i + 1)); done; } |
		/usr/bin/time -f '%e %U %S %M' -o "$d/time" sh -c 'echo $$ > "$0"; exec "$@"' "$d/pid" \
		cxr-score -q --precision "$p" -j "$threads" --batch "$b" -m "$m" |
		"$py" "$tmp/stamp.py" "$d/pid" - "$nscore" "$d/done" > "$d/stamped.tsv"
	# fields: seconds cpu image score ...
	read -r le lu ls lm < "$d/load.time"
	awk -F'\t' -v w="$warm_img" -v t0="$t0" -v le="$le" '
		$3 == "image" { next } { k++ } k == w { a = $1; c = $2 } { z = $1; cz = $2 }
		END { printf "%.3f\t%.3f\t%.3f\n", (k - w) / (z - a), (k - w) / (cz - c),
			k / (z - t0 - le) }' "$d/stamped.tsv" > "$d/rate"
	n=$(awk -F'\t' '$3 != "image"' "$d/stamped.tsv" | wc -l)
	[ "$n" -eq "$nscore" ] || { echo "precision.sh: cxr-score --precision $p --batch $b wrote $n lines, not $nscore" >&2; return 1; }
}
torch_modes() { # P
	: > "$tmp/torch-$1.tsv"
	[ $have_torch = 1 ] || return 0
	echo "# torch_resnet_bench.py --precision $1 ..." >&2
	"$py" "$top/bench/torch_resnet_bench.py" --threads "$threads" --width "$width" --size "$size" \
		--iters "$titers" --images "$nscore" --precision "$1" \
		--modes "train:$batch,infer:8,infer:1" > "$tmp/torch-$1.tsv" ||
		echo "precision.sh: torch_resnet_bench.py --precision $1 failed" >&2
}

# 4. per precision, cxr then PyTorch, so each pair meets the same load
have_torch=0
"$py" -c 'import torch' 2> /dev/null && have_torch=1
rm -rf "$tmp"/round-*
r=1
while [ $r -le "$rounds" ]; do
	[ "$rounds" -eq 1 ] || echo "# round $r of $rounds" >&2
	for p in $precisions; do
		cxr_train "$p"
		cxr_score "$p" 8
		cxr_score "$p" 1
		torch_modes "$p"
		# the round's figures, kept apart
		for d in train-$p score-$p-8 score-$p-1; do
			rm -rf "$tmp/round-$r/$d"
			mkdir -p "$tmp/round-$r/$d"
			cp "$tmp/$d/rate" "$tmp/$d/time" "$tmp/round-$r/$d/"
		done
		cp "$tmp/torch-$p.tsv" "$tmp/round-$r/"
	done
	r=$((r + 1))
done
load_end=$(load)

# med(s): the median of the numbers in the string s, blank-separated (an
# even count's the mean of the middle two, to 3 decimals); for awk
med_awk='
function med(s,   n, a, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : sprintf("%.3f", (a[n / 2] + a[n / 2 + 1]) / 2)
}'
# median: of the numbers on the standard input, one a line ("-": none)
median() {
	awk "$med_awk"' { s = s " " $1 } END { print NR ? med(s) : "-" }'
}
# With more than one round, each cxr file's fields and each PyTorch mode's
# figures become their medians over the rounds (the variant: the names seen).
if [ "$rounds" -gt 1 ]; then
	for p in $precisions; do
		for d in train-$p score-$p-8 score-$p-1; do
			for f in rate time; do
				n=$(awk '{ print NF; exit }' "$tmp/round-1/$d/$f")
				i=1 line=
				while [ $i -le "$n" ]; do
					v=$(for q in "$tmp"/round-*/"$d/$f"; do awk -v i=$i '{ print $i; exit }' "$q"; done | median)
					line="$line${line:+	}$v"
					i=$((i + 1))
				done
				printf '%s\n' "$line" > "$tmp/$d/$f"
			done
		done
		[ -s "$tmp/round-1/torch-$p.tsv" ] || continue
		awk -F'\t' -v OFS='\t' "$med_awk"'
			FNR == 1 { if (NR == 1) print; next }
			/^#/ { if (!seen[$0]++) other[++no] = $0; next }
			{ k = $1 OFS $2; if (!(k in at)) keys[++nk] = k; at[k] = 1
			  for (i = 3; i <= 5; i++) val[k, i] = val[k, i] " " $i
			  if (index(" " var[k] " ", " " $7 " ") == 0) var[k] = var[k] (var[k] == "" ? "" : "/") $7
			  prec[k] = $6 }
			END { for (i = 1; i <= nk; i++) { k = keys[i]
				print k, med(val[k, 3]), med(val[k, 4]), med(val[k, 5]), prec[k], var[k] }
			      for (i = 1; i <= no; i++) print other[i] }' \
			"$tmp"/round-*/torch-$p.tsv > "$tmp/torch-$p.tsv"
	done
fi

# 5. the table
# rows: work key; cxr files give "img_per_s img_per_cpu_s [whole]", time "e u s rss"
get() { # FILE FIELD -> value or -
	if [ -s "$1" ]; then awk -v f="$2" '{ print $f; exit }' "$1"; else echo -; fi
}
tget() { # P MODE BATCH FIELD(img_per_s 3, rss 4, cpu 5, variant 7)
	awk -F'\t' -v m="$2" -v b="$3" -v f="$4" '$1 == m && $2 == b { v = $f } END { print (v == "" ? "-" : v) }' \
		"${base:-$tmp}/torch-$1.tsv"
}
kib2mb() { [ "$1" = - ] && echo - || awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
cell() { # WORK P FIELD: cxr's figure
	b=${base:-$tmp}
	case $1 in train) f=$b/train-$2 ;; score8) f=$b/score-$2-8 ;; score1) f=$b/score-$2-1 ;; esac
	case $3 in
	rate) get "$f/rate" 1 ;; cpu) get "$f/rate" 2 ;; whole) [ "$1" = train ] && echo - || get "$f/rate" 3 ;;
	rss) kib2mb "$(get "$f/time" 4)" ;;
	esac
}
tcell() { # WORK P FIELD
	case $1 in train) m=train b=$batch ;; score8) m=infer b=8 ;; score1) m=infer b=1 ;; esac
	case $3 in rate) tget "$2" $m $b 3 ;; cpu) tget "$2" $m $b 5 ;; rss) tget "$2" $m $b 4 ;;
	variant) tget "$2" $m $b 7 ;; whole) echo - ;; esac
}
has() { case " $precisions " in *" $1 "*) return 0 ;; esac; return 1; }
# ratio of WORK P FIELD in round R (its directory as base)
round_ratio() { base=$tmp/round-$4; ratio "$(cell "$1" "$2" "$3")" "$(tcell "$1" "$2" "$3")"; base=; }
# the median over the rounds of WORK P FIELD's ratio
rounds_ratio() {
	i=1
	while [ $i -le "$rounds" ]; do echo "$(round_ratio "$1" "$2" "$3" $i)"; i=$((i + 1)); done |
		grep -v '^-$' | median
}
val() { if has "$2"; then cell "$1" "$2" "$3"; else echo -; fi; }
tval() { if has "$2"; then tcell "$1" "$2" "$3"; else echo -; fi; }

echo "# precision.sh, $started: ResNet-50 width $width, 1x${size}x$size, $threads threads each, one after another, $rounds round(s);"
echo "# cxr: whole cxr-train (batch $batch, $steps steps, the first $skip not timed) and cxr-score (--batch 8 and 1,"
echo "# $nscore images, the first $warm_img not timed) processes; PyTorch $( [ $have_torch = 1 ] && "$py" -c 'import torch; print(torch.__version__)' || echo absent):"
echo "# torch_resnet_bench.py, best variant per mode. OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}. Tree $tree."
echo "# load average at start: $load_start; at end: $load_end ($(nproc) cores)"
printf 'work\tmeasure\tcxr_fp32\ttorch_fp32_best\tcxr_bf16\ttorch_bf16_best\tratio_fp32\tratio_bf16\tgoal_fp32\tgoal_bf16\ttorch_fp32_variant\ttorch_bf16_variant\n'
for w in train score8 score1; do
	case $w in train) wn="training, batch $batch" ;; score8) wn="scoring, batch 8" ;; score1) wn="scoring, batch 1" ;; esac
	for q in rate cpu whole rss; do
		case $q in rate) qn=img_per_s ;; cpu) qn=img_per_cpu_s ;; whole) qn=whole_img_per_s ;; rss) qn=peak_rss_mb ;; esac
		[ $w = train ] && [ $q = whole ] && continue
		a=$(val $w fp32 $q) b=$(tval $w fp32 $q) c=$(val $w bf16 $q) d=$(tval $w bf16 $q)
		if [ $q = whole ]; then r1=- r2=-
		elif [ "$rounds" -gt 1 ]; then
			r1=$(has fp32 && rounds_ratio $w fp32 $q || echo -) r2=$(has bf16 && rounds_ratio $w bf16 $q || echo -)
		else r1=$(ratio "$a" "$b") r2=$(ratio "$c" "$d"); fi
		# issue 10's goals, as ratios
		case $w.$q in
		train.rate) g1='>=1.5' g2='>=1.25' ;; score8.rate) g1='>=1.3' g2='>=1.25' ;;
		score1.rate) g1='>=1.0' g2='>=1.0' ;; *.rss) g1='<=1' g2='<=1' ;; *) g1=- g2=- ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wn" "$qn" "$a" "$b" "$c" "$d" "$r1" "$r2" "$g1" "$g2" \
			"$(tval $w fp32 variant)" "$(tval $w bf16 variant)"
	done
done
echo "# ratio: cxr / PyTorch (for peak_rss_mb, below 1 is better); whole_img_per_s: $nscore images over"
echo "# the process's time to its last line less a load-only run's time (cxr-score on an empty stream)"
if [ "$rounds" -gt 1 ]; then
	echo "# $rounds rounds: figures are medians over the rounds, ratios the medians of the rounds' ratios;"
	echo "# each round's img_per_s ratios (training, scoring batch 8, scoring batch 1):"
	i=1
	while [ $i -le "$rounds" ]; do
		for p in $precisions; do
			printf '#   round %d %s: %s %s %s\n' $i "$p" "$(round_ratio train "$p" rate $i)" \
				"$(round_ratio score8 "$p" rate $i)" "$(round_ratio score1 "$p" rate $i)"
		done
		i=$((i + 1))
	done
fi

# GFLOP/s
echo
bf_peak=- bf_core=- fp_peak=- fp_core=-
if [ $peak_ok = 1 ]; then
	pk=$(awk -F'\t' '{ b += $2; f += $3; g += $4; n++ } END { printf "%.1f\t%.1f\t%.3f\t%d", b, f, g / n, n }' "$tmp/peak.tsv")
	set -- $pk
	bf_peak=$1 fp_peak=$2 clk=$3 nthr=$4
	fp_core=$(awk -v f="$fp_peak" -v n="$nthr" 'BEGIN { printf "%.1f", f / n }')
	if [ "$bf_peak" = nan ] || [ "$bf_peak" = -nan ]; then
		bf_peak=-
		echo "# peak (microbenchmark, $nthr threads at once, per thread CPU second, best of 3; no AVX512_BF16):"
		echo "# vfmadd231ps ($peak_flags) $fp_core GFLOP/s a core, $fp_peak for $nthr; clock by dependent adds $clk GHz"
		awk -v c="$clk" -v m="$mhz" -v f="$fp_core" 'BEGIN {
			printf "# (cpuinfo says %s MHz): %.1f fp32 FLOP a cycle at the measured clock\n", m, f / c }'
	else
		bf_core=$(awk -v b="$bf_peak" -v n="$nthr" 'BEGIN { printf "%.1f", b / n }')
		echo "# peak (microbenchmark, $nthr threads at once, per thread CPU second, best of 3): vdpbf16ps $bf_core GFLOP/s a core,"
		echo "# $bf_peak for $nthr; vfmadd231ps $fp_peak for $nthr; clock by dependent adds $clk GHz (cpuinfo says $mhz MHz):"
		awk -v b="$bf_core" -v c="$clk" -v m="$mhz" -v f="$fp_peak" -v n="$nthr" 'BEGIN {
			printf "# %.1f bf16 FLOP a cycle at the measured clock (%.1f at cpuinfo'\''s), fp32 FMA %.1f\n",
				b / c, b / (m / 1000), f / n / c }'
	fi
else
	echo "# peak: no microbenchmark (no AVX2 with FMA, or no compiler: $(head -c 200 "$tmp/peak.err" 2>/dev/null))"
fi
echo "# ceilings of one 2048^3 product (resnet_bench, fp32): sgemm $sgemm GFLOP/s, $owngemm GFLOP/s"
echo "# FLOP per image (direct convolutions): training $train_gflop GFLOP (cxr-train's log), inference $infer_gflop (resnet_bench)"
printf 'work\tengine\tgflop_per_img\tgflops\tof_bf16_peak\tof_fp32_peak\tgflop_per_cpu_s\tof_core_bf16_peak\tof_core_fp32_peak\n'
for w in train score8 score1; do
	case $w in train) wn="training, batch $batch" g=$train_gflop ;; score8) wn="scoring, batch 8" g=$infer_gflop ;;
		score1) wn="scoring, batch 1" g=$infer_gflop ;; esac
	for e in "cxr fp32" "torch fp32" "cxr bf16" "torch bf16"; do
		set -- $e
		has "$2" || continue
		if [ "$1" = cxr ]; then r=$(cell $w "$2" rate) c=$(cell $w "$2" cpu); else r=$(tcell $w "$2" rate) c=$(tcell $w "$2" cpu); fi
		awk -v wn="$wn" -v e="$e" -v g="$g" -v r="$r" -v c="$c" -v p="$bf_peak" -v pc="$bf_core" \
			-v f="$fp_peak" -v fc="$fp_core" 'BEGIN {
			if (r == "-" || g == "") { printf "%s\t%s\t%s\t-\t-\t-\t-\t-\t-\n", wn, e, g; exit }
			printf "%s\t%s\t%.3g\t%.1f\t%s\t%s\t%.1f\t%s\t%s\n", wn, e, g, g * r,
				p == "-" ? "-" : sprintf("%.3f", g * r / p),
				f == "-" ? "-" : sprintf("%.3f", g * r / f), g * c,
				pc == "-" ? "-" : sprintf("%.3f", g * c / pc),
				fc == "-" ? "-" : sprintf("%.3f", g * c / fc) }'
	done
done
echo "# gflops: FLOP per image x img_per_s, against the $threads-thread bf16 peak and fp32 FMA peak;"
echo "# gflop_per_cpu_s: x img_per_cpu_s, against one core's (the engine's own efficiency, whatever the"
echo "# load). Winograd's saving counts as work done: the FLOP are the direct convolutions' count"
echo
echo "# PyTorch's other variants (not the best$([ "$rounds" -gt 1 ] && echo "; of every round"):"
for p in $precisions; do
	[ -s "$tmp/torch-$p.tsv" ] && grep '^#' "$tmp/torch-$p.tsv" | sed 's/^#\t/#   /' || true
done
