/* xvmd_json.h - shorthands the xvmd API modules use to build json-c replies. */
#ifndef XVM_XVMD_JSON_H
#define XVM_XVMD_JSON_H

#include <json-c/json.h>
#include <stdint.h>

#define ADD(o, k, v) json_object_object_add(o, k, v)
#define JS(s) json_object_new_string(s)
#define JI(n) json_object_new_int64((int64_t)(n))

#endif
