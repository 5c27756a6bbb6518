/* perms.c - Xen node permissions: parse, format and check n/r/w/b entries. */
#include "store/perms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/util.h"

int perm_parse(const char *s, struct store_perm *out)
{
	uint64_t dom;

	switch (s[0]) {
	case 'n': out->mode = 0; break;
	case 'r': out->mode = STORE_PERM_READ; break;
	case 'w': out->mode = STORE_PERM_WRITE; break;
	case 'b': out->mode = STORE_PERM_READ | STORE_PERM_WRITE; break;
	default: return -EINVAL;
	}
	if (parse_uint(s + 1, 0, 0xffff, &dom))
		return -EINVAL;
	out->dom = (uint32_t)dom;
	return 0;
}

void perm_format(const struct store_perm *p, char *buf, size_t size)
{
	static const char letters[4] = { 'n', 'r', 'w', 'b' };

	snprintf(buf, size, "%c%u", letters[p->mode & 3], p->dom);
}

uint32_t perm_access(const struct store_perm *p, uint32_t np, uint32_t dom)
{
	if (np == 0)
		return 0;
	if (p[0].dom == dom)
		return STORE_PERM_READ | STORE_PERM_WRITE;
	for (uint32_t i = 1; i < np; i++)
		if (p[i].dom == dom)
			return p[i].mode;
	return p[0].mode;
}

int perms_to_text(const struct store_perm *p, uint32_t np, char **out)
{
	char *buf = malloc((size_t)np * 8 + 1);
	size_t off = 0;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (uint32_t i = 0; i < np; i++) {
		char one[16];

		perm_format(&p[i], one, sizeof(one));
		off += (size_t)sprintf(buf + off, "%s%s", i ? " " : "", one);
	}
	*out = buf;
	return 0;
}

int perms_from_text(const char *s, struct store_perm **out, uint32_t *np)
{
	char *copy = strdup(s), *save = NULL, *tok;
	struct store_perm *p = calloc(strlen(s) / 2 + 1, sizeof(*p));
	uint32_t n = 0;
	int rc = 0;

	if (!copy || !p) {
		rc = -ENOMEM;
		goto out;
	}
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		rc = perm_parse(tok, &p[n]);
		if (rc)
			goto out;
		n++;
	}
	if (n == 0)
		rc = -EINVAL;
out:
	free(copy);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	*np = n;
	return 0;
}
