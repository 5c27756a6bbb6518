/* config_int.h - internals shared by the xl.cfg lexer, parser and interpreter. */
#ifndef XVM_TOOLSTACK_CONFIG_INT_H
#define XVM_TOOLSTACK_CONFIG_INT_H

#include <stdarg.h>

#include "xvm/xlcfg.h"

/* The settings read so far: one entry per key, last assignment wins. */
struct cfg_raw {
	struct xlcfg_setting *v;
	size_t n, cap;
};

/* Parse `text` (named `source`, which must outlive raw) and merge its
 * statements into raw. Returns 0, -EINVAL (err set to
 * "SOURCE:LINE:COL: what") or -ENOMEM. On error raw holds whatever was
 * merged before; the caller frees it. */
int cfg_raw_parse(struct cfg_raw *raw, const char *source, const char *text,
		  size_t len, struct xlcfg_error *err);
void cfg_raw_free(struct cfg_raw *raw);
void cfg_value_free(struct xlcfg_value *v);

/* Make msg one printable line: control characters become \n, \t, \xHH
 * (truncated to cap). */
void cfg_msg_clean(char *msg, size_t cap);

/* err->msg = printf(fmt, ...), cleaned as above; returns -EINVAL. */
int cfg_errf(struct xlcfg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Deepest list nesting accepted (bounds the parser's recursion). */
#define CFG_MAX_DEPTH 32

#endif
