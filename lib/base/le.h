/* le — little-endian integers in byte buffers, and a bounds-checked cursor
 * for reading them: the one encoding under the tensor stream and the model
 * file. Header-only (static inline): these are a few shifts each. */
#ifndef CXR_LE_H
#define CXR_LE_H
#include <stddef.h>
#include <stdint.h>

static inline void cxr_le_put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void cxr_le_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void cxr_le_put64(unsigned char *p, uint64_t v)
{
	cxr_le_put32(p, (uint32_t)v);
	cxr_le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t cxr_le_get16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t cxr_le_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t cxr_le_get64(const unsigned char *p)
{
	return cxr_le_get32(p) | (uint64_t)cxr_le_get32(p + 4) << 32;
}

/* A cursor over p[pos..end) that refuses to run past end: take gives the
 * next n bytes, or NULL (and sets bad, which sticks) when fewer are left;
 * a failed take leaves pos where it was, for messages. The take_uN
 * readers give 0 after an overrun, so a parser can read a whole header
 * and test bad once. */
typedef struct cxr_le_cursor {
	const unsigned char *p;
	size_t pos, end;
	int bad;
} cxr_le_cursor;

static inline size_t cxr_le_left(const cxr_le_cursor *c) { return c->end - c->pos; }

static inline const unsigned char *cxr_le_take(cxr_le_cursor *c, size_t n)
{
	if (c->bad || c->end - c->pos < n) {
		c->bad = 1;
		return NULL;
	}
	const unsigned char *q = c->p + c->pos;
	c->pos += n;
	return q;
}

static inline unsigned cxr_le_take_u8(cxr_le_cursor *c)
{
	const unsigned char *q = cxr_le_take(c, 1);
	return q ? *q : 0;
}

static inline uint32_t cxr_le_take_u16(cxr_le_cursor *c)
{
	const unsigned char *q = cxr_le_take(c, 2);
	return q ? cxr_le_get16(q) : 0;
}

static inline uint32_t cxr_le_take_u32(cxr_le_cursor *c)
{
	const unsigned char *q = cxr_le_take(c, 4);
	return q ? cxr_le_get32(q) : 0;
}

static inline uint64_t cxr_le_take_u64(cxr_le_cursor *c)
{
	const unsigned char *q = cxr_le_take(c, 8);
	return q ? cxr_le_get64(q) : 0;
}

#endif
