// UUIDs (lib/uuid.c, Linux 6.1): uuid_parse and uuid_gen.
#include <cctype>
#include <random>

#include "kernel/kapi.h"
#include <linux/uuid.h>

namespace {
// uuid_index: uuid_t keeps the bytes in string order.
constexpr unsigned kHyphens[] = {8, 13, 18, 23};
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

extern "C" int uuid_parse(const char* s, uuid_t* u) {
  // uuid_is_valid: 36 characters, '-' at 8, 13, 18 and 23, hex digits elsewhere.
  if (!s || !u) return -EINVAL;
  for (unsigned i = 0; i < UUID_STRING_LEN; ++i) {
    const bool hyphen = i == kHyphens[0] || i == kHyphens[1] || i == kHyphens[2] || i == kHyphens[3];
    if (hyphen ? s[i] != '-' : hex_value(s[i]) < 0) return -EINVAL;
  }
  unsigned pos = 0;
  for (unsigned b = 0; b < UUID_SIZE; ++b) {
    if (pos == kHyphens[0] || pos == kHyphens[1] || pos == kHyphens[2] || pos == kHyphens[3]) ++pos;
    u->b[b] = static_cast<__u8>(hex_value(s[pos]) << 4 | hex_value(s[pos + 1]));
    pos += 2;
  }
  return 0;
}

extern "C" void uuid_gen(uuid_t* u) {
  // generate_random_uuid: random bytes, version 4 in byte 6, variant 1 (10xx) in byte 8.
  static std::random_device rd;
  for (unsigned i = 0; i < UUID_SIZE; i += 4) {
    const unsigned v = rd();
    for (unsigned j = 0; j < 4; ++j) u->b[i + j] = static_cast<__u8>(v >> (8 * j));
  }
  u->b[6] = static_cast<__u8>((u->b[6] & 0x0f) | 0x40);
  u->b[8] = static_cast<__u8>((u->b[8] & 0x3f) | 0x80);
}
