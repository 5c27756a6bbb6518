/* trace.h - the xpv USDT provider: include this to fire probes.
 *
 * Probes are declared once, in trace/xpv.d; the build turns that file into
 * xpv_probes.h (macros XPV_<NAME>(...) and XPV_<NAME>_ENABLED()) and an object
 * holding the semaphores. Use XVM_PROBE(NAME, args...) so that argument
 * evaluation is skipped when no tracer is attached. */
#ifndef XVM_TRACE_H
#define XVM_TRACE_H

#include "trace/xpv_probes.h"

#define XVM_PROBE(name, ...)                                                   \
	do {                                                                   \
		if (__builtin_expect(XPV_##name##_ENABLED(), 0))               \
			XPV_##name(__VA_ARGS__);                               \
	} while (0)

#endif
