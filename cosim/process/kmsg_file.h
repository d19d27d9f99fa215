// /dev/kmsg (Linux 6.1 kernel/printk/printk.c devkmsg_*): the kernel log as one record per read,
// "<level>,<seq>,<usec>,-;<text>\n". The reader starts at the oldest record; lseek(SEEK_END)
// skips to after the newest (SEEK_SET 0: back to the oldest); at the end a non-blocking read
// gives -EAGAIN and a blocking one waits in simulated time for the next line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/files.h"

namespace pciesim::cosim {

class Kernel;

struct KmsgFile : KernelFile {
  KmsgFile(Kernel& k, bool nonblock) : kernel(k), nonblock(nonblock) {}
  const char* kind() const override { return "kmsg"; }
  long read(char* buf, size_t count);
  int64_t lseek(int64_t offset, int whence);
  bool readable() const;

  Kernel& kernel;
  bool nonblock;
  size_t seq = 0;  // the next record to read
};

}  // namespace pciesim::cosim
