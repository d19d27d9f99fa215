#include "process/kmsg_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

#include "kernel/kernel.h"

namespace pciesim::cosim {

bool KmsgFile::readable() const { return seq < kernel.log().lines().size(); }

long KmsgFile::read(char* buf, size_t count) {
  const auto& lines = kernel.log().lines();
  if (seq > lines.size()) seq = lines.size();  // the log was cleared under the reader
  if (seq == lines.size()) {
    if (nonblock || !kernel.scheduler().in_task()) return -EAGAIN;
    kernel.scheduler().wait_until([this] { return readable(); }, "a /dev/kmsg read");
  }
  const LogLine& l = kernel.log().lines()[seq];
  // devkmsg_read: "%u,%llu,%llu,%c;" (facility 0 << 3 | level, sequence, microseconds, '-' for
  // a record that is not a continuation), the text, "\n".
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%u,%zu,%llu,-;", static_cast<unsigned>(l.level), seq,
                static_cast<unsigned long long>(l.time_ps / 1000000));
  const std::string rec = prefix + l.text + "\n";
  if (rec.size() > count) return -EINVAL;  // the whole record or nothing, as devkmsg_read
  std::memcpy(buf, rec.data(), rec.size());
  ++seq;
  return static_cast<long>(rec.size());
}

int64_t KmsgFile::lseek(int64_t offset, int whence) {
  if (offset) return -ESPIPE;  // devkmsg_llseek: only whole positions
  switch (whence) {
    case SEEK_SET: seq = 0; return 0;
    case SEEK_END:
    case SEEK_DATA: seq = kernel.log().lines().size(); return 0;
    default: return -EINVAL;
  }
}

}  // namespace pciesim::cosim
