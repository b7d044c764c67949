/* wino_xform — Winograd's transforms (wino.c) on vectors of VW floats.
 *
 * Included by wino.c once for each vector width its instruction sets use
 * (16: AVX-512, 8: AVX2, 4: SSE2), with VW and VW_FN(name) (the name of
 * this width's version of a function) defined, after the transforms'
 * macros (BT6, AT6, A4, GT6; T9, A9, G9), wdims, tile_pos, wout and
 * stage_out: each instance of wino.c runs the transforms on vectors as
 * wide as its registers. Written on
 * 16-float vectors for all of them, the AVX2 instance kept every
 * transform's vectors in memory and split some operations into scalar
 * ones (GCC 12 does so with vectors wider than the registers): its input
 * and output transforms took 1.6 times as long as stage 1's 36 products
 * at batch 8. The layouts do not change with VW: V, M, Y and U keep their
 * channels in runs of VL = 16, padded with zeros to a multiple of 16, and
 * each lane's arithmetic is the same at every width. No include guard: it
 * is meant to be included more than once. */

typedef float VW_FN(vf) __attribute__((vector_size(4 * VW)));
typedef float VW_FN(vfu) __attribute__((vector_size(4 * VW), aligned(4)));
/* bf16 activations (cxr_wino_forward_act): the upper halves of fp32s,
 * widened and narrowed with integer operations, so every instruction
 * set's instance takes them. */
typedef unsigned short VW_FN(vhu) __attribute__((vector_size(2 * VW), aligned(2)));
typedef unsigned int VW_FN(vu) __attribute__((vector_size(4 * VW)));
typedef int VW_FN(vi) __attribute__((vector_size(4 * VW)));
#define vf VW_FN(vf)
#define vfu VW_FN(vfu)
#define vhu VW_FN(vhu)
#define vu VW_FN(vu)
#define vi VW_FN(vi)

/* *v = the VW bf16 values at p. */
INLINE void VW_FN(from_bf16)(vf *v, const unsigned short *p)
{
	*v = (vf)(__builtin_convertvector(*(const vhu *)p, vu) << 16);
}

/* The first n of *v rounded to bf16 as precision.h's cxr_bf16_round (to
 * nearest even, zero and subnormals to a signed zero, NaN kept quiet), to
 * p. */
INLINE void VW_FN(to_bf16)(unsigned short *p, const vf *v, int n)
{
	const vu u = (vu)*v;
	vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
	const vu tiny = (vu)((u & 0x7f800000u) == 0), nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);
	r = (r & ~tiny) | ((u >> 16) & 0x8000u & tiny);
	r = (r & ~nan) | (((u >> 16) | 0x40u) & nan);
	vhu h = __builtin_convertvector(r, vhu);
	if (n == VW)
		*(vhu *)p = h;
	else
		memcpy(p, &h, (size_t)n * sizeof *p);
}

/* *v = VW values at element i of x, fp32 or (h) bf16. */
INLINE void VW_FN(ldx)(vf *v, const void *x, size_t i, int h)
{
	if (h)
		VW_FN(from_bf16)(v, (const unsigned short *)x + i);
	else
		*v = LD((const float *)x + i);
}

/* *v = up to VW floats from p, zeros after n (0 to VW). (Through a
 * pointer: a function returning a wide vector would change the ABI.) */
INLINE void VW_FN(ldn)(vf *v, const float *p, int n)
{
	if (n == VW) {
		*v = LD(p);
		return;
	}
	float b[VW] = { 0 };
	memcpy(b, p, (size_t)n * sizeof *p);
	*v = LD(b);
}

/* Element i of x and the n - 1 after it (the rest zero), fp32 or bf16. */
INLINE void VW_FN(ldxn)(vf *v, const void *x, size_t i, int n, int h)
{
	if (!h) {
		VW_FN(ldn)(v, (const float *)x + i, n);
	} else if (n == VW) {
		VW_FN(from_bf16)(v, (const unsigned short *)x + i);
	} else {
		unsigned short b[VW] = { 0 };
		memcpy(b, (const unsigned short *)x + i, (size_t)n * sizeof *b);
		VW_FN(from_bf16)(v, b);
	}
}

/* The first n values of *v to element i of y, fp32 or (h) rounded to bf16. */
INLINE void VW_FN(stxn)(void *y, size_t i, const vf *v, int n, int h)
{
	if (h) {
		VW_FN(to_bf16)((unsigned short *)y + i, v, n);
	} else if (n == VW) {
		ST((float *)y + i, *v);
	} else {
		float b[VW];
		ST(b, *v);
		memcpy((float *)y + i, b, (size_t)n * sizeof *b);
	}
}

/* *v = *v > 0 ? *v : 0, NaN and -0 to +0, with integer operations: the
 * bits of every value that is not +0 to +inf are above +inf's when read
 * unsigned. (GCC 12 splits a comparison of 16-float vectors into 16
 * scalar ones when compiling for AVX2: a float compare here made the
 * AVX2 output transform, at batch 8 the largest part of stage 1's
 * forward, three times slower.) */
INLINE void VW_FN(relu)(vf *v)
{
	const vu u = (vu)*v;
	const vu drop = (vu)((vi)(0x7f800000u - u) >> 31);
	*v = (vf)(u & ~drop);
}


/* V (ne, tb, ldv), element e at V + e*es: rows [0, nt) the transformed
 * input patches of tiles t0.. for channels [c0, c0+cw) of x (N,H,W,C)
 * (fp32, or bf16 with h), padded with zeros to rup(cw, 16) columns; rows
 * [nt, tb) zero. Stride 1 (s2 0): 6x6 patches from (y0 - 1, x0 - 1) of
 * an output tile at (y0, x0), by B' d B, 36 elements; stride 2: 9x9
 * patches from (2 y0 - 1, 2 x0 - 1), by T9 down the columns and along
 * the rows, 81. (s2 and h: constants where inlined.) */
INLINE void VW_FN(xin_body)(float *V, size_t es, int ldv, const void *x, int h, int s2,
			    const wdims *d, long t0, int nt, int tb, int c0, int cw)
{
	const int C = d->c, H = d->h, W = d->w, cwp = rup(cw, VL);
	const int P = s2 ? 9 : 6;
	for (int q = 0; q < tb; q++) {
		float *vr = V + (size_t)q * ldv;
		if (q >= nt) {
			for (int e = 0; e < P * P; e++)
				memset(vr + e * es, 0, (size_t)cwp * sizeof *vr);
			continue;
		}
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		y0 = (s2 ? 2 * y0 : y0) - 1, x0 = (s2 ? 2 * x0 : x0) - 1;
		const size_t xb = (size_t)n * H * W * C + c0;
		const int inside = y0 >= 0 && y0 + P <= H && x0 >= 0 && x0 + P <= W;
		for (int cc = 0; cc < cwp; cc += VW) {
			int nc = imax(0, imin(VW, cw - cc));
			vf t[9][9];
			for (int j = 0; j < P; j++) {
				int ix = x0 + j;
				vf dd[9];
				/* may lie outside x: only an offset until checked */
				const ptrdiff_t at = (ptrdiff_t)xb + ((ptrdiff_t)y0 * W + ix) * C + cc;
				if (inside && nc == VW) {  /* most tiles: no checks */
#pragma GCC unroll 9
					for (int i = 0; i < P; i++)
						VW_FN(ldx)(&dd[i], x, (size_t)(at + (ptrdiff_t)i * W * C), h);
				} else {
					for (int i = 0; i < P; i++) {
						int iy = y0 + i;
						if (iy < 0 || iy >= H || ix < 0 || ix >= W)
							dd[i] = (vf){ 0 };
						else
							VW_FN(ldxn)(&dd[i], x, (size_t)(at + (ptrdiff_t)i * W * C), nc,
							     h);
					}
				}
				vf o[9];
				if (s2)
					T9(dd, o);
				else
					BT6(dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], o);
#pragma GCC unroll 9
				for (int i = 0; i < P; i++)
					t[i][j] = o[i];
			}
			for (int i = 0; i < P; i++) {
				vf o[9];
				if (s2)
					T9(t[i], o);
				else
					BT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], o);
#pragma GCC unroll 9
				for (int j = 0; j < P; j++)
					ST(vr + (i * P + j) * es + cc, o[j]);
			}
		}
	}
}

/* One output tile's values r (ny x nx of its 4x4), channels [k, k + nk)
 * of their pixels, to y from element yb (rows ldr elements apart,
 * pixels K apart), fp32 or (h) bf16, as o says: [+ y's old value]
 * [+ bias] [ReLU]; and, where o asks, each channel's sums of the stored
 * values and of their squares (of the differences from the tile's first
 * output in float, then in double: block_sums.h). */
INLINE void VW_FN(store_tile)(void *y, size_t yb, size_t ldr, int K, vf r[4][4], int ny, int nx,
			      int nk, int h, const wout *o, const vf *bias, int k)
{
	vf shift = { 0 }, sum = { 0 }, sq = { 0 };
	for (int i = 0; i < ny; i++)
		for (int j = 0; j < nx; j++) {
			const size_t at = yb + i * ldr + (size_t)j * K;
			vf v = r[i][j];
			if (o->accumulate) {
				vf old;
				VW_FN(ldxn)(&old, y, at, nk, h);
				v = old + v;
			}
			if (o->bias)
				v = v + *bias;
			if (o->relu)
				VW_FN(relu)(&v);
			VW_FN(stxn)(y, at, &v, nk, h);
			if (i == 0 && j == 0)
				shift = v;
			const vf dv = v - shift;
			sum += dv;
			sq += dv * dv;
		}
	if (o->s0)
		for (int l = 0; l < nk; l++)
			block_sums_add(o->s0 + k + l, o->s1 + k + l, ny * nx, shift[l], sum[l],
				       sq[l]);
}

/* y (N,OH,OW,K) channels [k0, k0+kw) (+)= the outputs of tiles
 * t0..t0+nt from M (ne, nt, ldm), laid out as xin_body lays out V, its
 * columns from k0: A' M A (stride 1), or A9 down the columns and along
 * the rows (stride 2, s2); stored as o says (h and s2: constants where
 * inlined). */
INLINE void VW_FN(xout_body)(void *y, const float *M, size_t es, int ldm, const wdims *d, long t0,
			     int nt, int k0, int kw, const wout *o, int h, int s2)
{
	const int K = d->k, H = d->oh, W = d->ow, P = s2 ? 9 : 6;
	for (int q = 0; q < nt; q++) {
		const float *mr = M + (size_t)q * ldm;
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		int ny = imin(4, H - y0), nx = imin(4, W - x0);
		const size_t yb = (((size_t)n * H + y0) * W + x0) * K + k0;
		for (int kk = 0; kk < kw; kk += VW) {
			int nk = imin(VW, kw - kk);
			vf t[4][9], bias = { 0 };
			if (o->bias)
				VW_FN(ldn)(&bias, o->bias + k0 + kk, nk);
			for (int j = 0; j < P; j++) {
				vf m[9], r[4];
				const float *p = mr + j * es + kk;
#pragma GCC unroll 9
				for (int i = 0; i < P; i++)
					m[i] = LD(p + (size_t)P * i * es);
				if (s2)
					A9(m, r);
				else
					AT6(m[0], m[1], m[2], m[3], m[4], m[5], r);
#pragma GCC unroll 4
				for (int i = 0; i < 4; i++)
					t[i][j] = r[i];
			}
			vf r[4][4];
			for (int i = 0; i < ny; i++) {
				if (s2)
					A9(t[i], r[i]);
				else
					AT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r[i]);
			}
			VW_FN(store_tile)(y, yb + kk, (size_t)W * K, K, r, ny, nx, nk, h, o, &bias,
					  k0 + kk);
		}
	}
}

/* Y (36, tb, ldy): rows [0, nt) are A dy A' of the 4x4 output-gradient
 * tiles t0.. of dy (N,H,W,K), all K channels, zero-padded to rup(K, 16);
 * rows [nt, tb) zero. */
INLINE void VW_FN(yin_body)(float *Y, size_t es, int ldy, const float *dy, const wdims *d, long t0,
		     int nt, int tb)
{
	const int K = d->k, H = d->h, W = d->w, kp = rup(K, VL);
	for (int q = 0; q < tb; q++) {
		float *yr = Y + (size_t)q * ldy;
		if (q >= nt) {
			for (int e = 0; e < NE; e++)
				memset(yr + e * es, 0, (size_t)kp * sizeof *yr);
			continue;
		}
		int n, y0, x0;
		tile_pos(d, t0 + q, &n, &y0, &x0);
		int ny = imin(4, H - y0), nx = imin(4, W - x0);
		const float *gb = dy + (((size_t)n * H + y0) * W + x0) * K;
		for (int kk = 0; kk < kp; kk += VW) {
			int nk = imax(0, imin(VW, K - kk));
			vf t[6][4];
			for (int j = 0; j < 4; j++) {
				vf g[4];
#pragma GCC unroll 4
				for (int i = 0; i < 4; i++)
					if (i < ny && j < nx)
						VW_FN(ldn)(&g[i], gb + ((size_t)i * W + j) * K + kk, nk);
					else
						g[i] = (vf){ 0 };
				vf o[6];
				A4(g[0], g[1], g[2], g[3], o);
#pragma GCC unroll 6
				for (int i = 0; i < 6; i++)
					t[i][j] = o[i];
			}
			for (int i = 0; i < 6; i++) {
				vf o[6];
				A4(t[i][0], t[i][1], t[i][2], t[i][3], o);
#pragma GCC unroll 6
				for (int j = 0; j < 6; j++)
					ST(yr + (i * 6 + j) * es + kk, o[j]);
			}
		}
	}
}

/* dw (K,C,3,3) rows [k0, k1), channels [c0, c0+cw) += G' Z G, with
 * Z (36, >= k1, ldz) holding columns c0.. */
INLINE void VW_FN(zout_body)(float *dw, const float *Z, size_t zes, int ldz, int k0, int k1, int C,
		      int c0, int cw)
{
	for (int k = k0; k < k1; k++)
		for (int cc = 0; cc < cw; cc += VW) {
			const float *zp = Z + (size_t)k * ldz + cc;
			vf t[3][6], r[9];
			for (int b = 0; b < 6; b++) {
				vf o[3];
				GT6(LD(zp + b * zes), LD(zp + (6 + b) * zes), LD(zp + (12 + b) * zes),
				    LD(zp + (18 + b) * zes), LD(zp + (24 + b) * zes),
				    LD(zp + (30 + b) * zes), o);
#pragma GCC unroll 3
				for (int i = 0; i < 3; i++)
					t[i][b] = o[i];
			}
#pragma GCC unroll 3
			for (int i = 0; i < 3; i++)
				GT6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r + 3 * i);
			float b[9][VW];
#pragma GCC unroll 9
			for (int q = 0; q < 9; q++)
				ST(b[q], r[q]);
			int nc = imin(VW, cw - cc);
			float *g = dw + ((size_t)k * C + c0 + cc) * 9;
			for (int l = 0; l < nc; l++)
				for (int q = 0; q < 9; q++)
					g[l * 9 + q] += b[q][l];
		}
}

/* G g G' (stride 1, G6: 36 elements) or G9 g G9' (stride 2, s2: 81) for
 * input channels [c0, c1) and the 16 output channels from k0.
 * U (ne, kp/16, C, 16): element e's run of columns [k0, k0+16) for
 * channel c at ((e*kp/16 + k0/16)*C + c)*16, so that a product reading a
 * run of 16 columns down all C rows reads one sequential stream (with
 * rows kp apart, 2 KB at 512 columns, the prefetchers left each row a
 * miss: at batch 1, whose 4 tiles of the 8x8 stage reuse U little, the
 * product waited on memory for 5.5 ms a layer). A channel's 36 values
 * go to ne places es floats apart, a power of two times 64 bytes at 256
 * channels and more: written in place, channel by channel, they were 36
 * streams falling in one set of L1 and of L2, each line evicted before
 * it was whole (a 512-channel layer's two transforms took 20 ms a
 * training step). So they are made for wc channels at a time in an L1
 * buffer (8, or 4 of stride 2's larger tiles), then each element's run
 * of wc * 16 floats written out whole (stage_out). rot (stride 1 only):
 * the data gradient's weights, as transform() says. */
INLINE void VW_FN(wxf_body)(float *U, const float *w, int C, int K, int rot, int s2, int k0,
			    int c0, int c1)
{
	const int kp = rup(K, VL), kn = imin(VL, K - k0), P = s2 ? 9 : 6, wc = s2 ? 4 : 8;
	const size_t es = (size_t)C * kp;
	float stage[NE2 * 4 * VL] __attribute__((aligned(64))); /* ne x wc x VL, either way */
	for (int cb = c0; cb < c1; cb += wc) {
		const int cn = imin(wc, c1 - cb);
		for (int c = cb; c < cb + cn; c++) {
			float gb[9][VL] = { { 0 } };
			if (rot) {
				const float *g = w + ((size_t)c * K + k0) * 9;
				for (int k = 0; k < kn; k++, g += 9)
					_Pragma("GCC unroll 9") for (int q = 0; q < 9; q++)
						gb[8 - q][k] = g[q];
			} else {
				const float *g = w + ((size_t)k0 * C + c) * 9;
				for (int k = 0; k < kn; k++, g += (size_t)C * 9)
					_Pragma("GCC unroll 9") for (int q = 0; q < 9; q++)
						gb[q][k] = g[q];
			}
			for (int hv = 0; hv < VL; hv += VW) {
				vf t[9][3];
				for (int j = 0; j < 3; j++) {
					vf col[3] = { LD(gb[j] + hv), LD(gb[3 + j] + hv), LD(gb[6 + j] + hv) };
					vf o[9];
					if (s2)
						G9(col, o);
					else
						G6(col, o);
#pragma GCC unroll 9
					for (int a = 0; a < P; a++)
						t[a][j] = o[a];
				}
				for (int a = 0; a < P; a++) {
					vf o[9];
					if (s2)
						G9(t[a], o);
					else
						G6(t[a], o);
#pragma GCC unroll 9
					for (int b = 0; b < P; b++)
						ST(stage + ((size_t)(a * P + b) * wc + (c - cb)) * VL + hv, o[b]);
				}
			}
		}
		stage_out(U + ((size_t)(k0 / VL) * C + cb) * VL, es, stage, P * P, wc, cn);
	}
}

#undef vf
#undef vfu
#undef vhu
#undef vu
#undef vi
