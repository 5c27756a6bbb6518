/* test_util.c - unit tests for lib/util.c (size and integer parsing). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/unit/check.h"
#include "xvm/util.h"

static void test_parse_size(void)
{
	uint64_t v = 0;

	CHECK(parse_size("512", 1ULL << 20, &v) == 0 && v == 512ULL << 20);
	CHECK(parse_size("64M", 1, &v) == 0 && v == 64ULL << 20);
	CHECK(parse_size("2G", 1, &v) == 0 && v == 2ULL << 30);
	CHECK(parse_size("2GiB", 1, &v) == 0 && v == 2ULL << 30);
	CHECK(parse_size("1.5G", 1, &v) == 0 && v == 3ULL << 29);
	CHECK(parse_size("4096k", 1, &v) == 0 && v == 4ULL << 20);
	CHECK(parse_size("100B", 1 << 20, &v) == 0 && v == 100);
	CHECK(parse_size("", 1, &v) == -EINVAL);
	CHECK(parse_size("M", 1, &v) == -EINVAL);
	CHECK(parse_size("-1G", 1, &v) == -EINVAL);
	CHECK(parse_size("12X", 1, &v) == -EINVAL);
	CHECK(parse_size("1.G", 1, &v) == -EINVAL);
	CHECK(parse_size("1G2", 1, &v) == -EINVAL);
	CHECK(parse_size("99999999999999999999", 1, &v) == -ERANGE);
	CHECK(parse_size("99999999999T", 1, &v) == -ERANGE);
}

static void test_parse_uint(void)
{
	uint64_t v = 0;

	CHECK(parse_uint("4", 1, 255, &v) == 0 && v == 4);
	CHECK(parse_uint("0", 1, 255, &v) == -ERANGE);
	CHECK(parse_uint("256", 1, 255, &v) == -ERANGE);
	CHECK(parse_uint("4x", 1, 255, &v) == -EINVAL);
	CHECK(parse_uint(" 4", 1, 255, &v) == -EINVAL);
	CHECK(parse_uint("+4", 1, 255, &v) == -EINVAL);
}

int main(void)
{
	test_parse_size();
	test_parse_uint();
	return check_report("util");
}
