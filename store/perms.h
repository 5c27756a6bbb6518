/* perms.h - Xen node permissions: parse, format and check n/r/w/b entries. */
#ifndef XVM_STORE_PERMS_H
#define XVM_STORE_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_PERM_READ 1u
#define STORE_PERM_WRITE 2u

struct store_perm {
	uint32_t dom;
	uint32_t mode; /* STORE_PERM_* bits */
};

/* Parse one entry such as "r5" or "b0". Returns 0 or -EINVAL. */
int perm_parse(const char *s, struct store_perm *out);

/* Format an entry into buf (at least 16 bytes): "w3". */
void perm_format(const struct store_perm *p, char *buf, size_t size);

/* The access (STORE_PERM_* bits) domain dom has on a node with these
 * permissions: the owner (entry 0) has all, a listed domain has its
 * entry's, anyone else has entry 0's mode. Privileged callers bypass
 * this. */
uint32_t perm_access(const struct store_perm *p, uint32_t np, uint32_t dom);

/* Serialise perms as a space-separated string ("r0 w1") into a malloc'd
 * buffer; parse that form back. 0, -ENOMEM or -EINVAL. */
int perms_to_text(const struct store_perm *p, uint32_t np, char **out);
int perms_from_text(const char *s, struct store_perm **out, uint32_t *np);

#endif
