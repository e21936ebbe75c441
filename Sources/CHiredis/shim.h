#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

// Only the reply reader is used: it is the part of hiredis whose API is the same in
// 0.14 (Debian 12) and 1.x (Ubuntu 24.04). Connections and command encoding are Swift's.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

// Macros and fixed-size C arrays do not import into Swift; these wrappers expose them.

static inline int chiredis_ok(void) { return REDIS_OK; }
static inline int chiredis_err(void) { return REDIS_ERR; }

static inline int chiredis_reply_string(void) { return REDIS_REPLY_STRING; }
static inline int chiredis_reply_array(void) { return REDIS_REPLY_ARRAY; }
static inline int chiredis_reply_integer(void) { return REDIS_REPLY_INTEGER; }
static inline int chiredis_reply_nil(void) { return REDIS_REPLY_NIL; }
static inline int chiredis_reply_status(void) { return REDIS_REPLY_STATUS; }
static inline int chiredis_reply_error(void) { return REDIS_REPLY_ERROR; }

static inline const char *chiredis_reader_errstr(const redisReader *reader) {
    return reader->errstr;
}

#endif
