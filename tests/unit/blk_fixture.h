/* blk_fixture.h - what the block-layer unit tests share: a scratch directory
 * with path helper, and a seeded xorshift generator for test data.
 * Define BLK_FIXTURE_SEED before including to pick the data sequence. */
#ifndef XVM_TESTS_BLK_FIXTURE_H
#define XVM_TESTS_BLK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef BLK_FIXTURE_SEED
#define BLK_FIXTURE_SEED 0x9e3779b97f4a7c15ULL
#endif

#define MiB (1ULL << 20)

/* the test's scratch directory (mkdtemp fills it) */
static char dir[64];

/* dir/name in one of four rotating buffers (so a call can take two paths) */
static const char *p(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static uint64_t fixture_rng = BLK_FIXTURE_SEED;

static uint64_t rnd(void)
{
	fixture_rng ^= fixture_rng << 13;
	fixture_rng ^= fixture_rng >> 7;
	fixture_rng ^= fixture_rng << 17;
	return fixture_rng;
}

static void fill(uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)rnd();
}

#endif
