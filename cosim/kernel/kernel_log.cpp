#include "kernel/kernel_log.h"

#include <cstdio>
#include <systemc>

namespace pciesim::cosim {

const char* to_string(LogLevel l) {
  static constexpr const char* kNames[] = {"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"};
  return kNames[static_cast<unsigned>(l) & 7];
}

void KernelLog::log(LogLevel level, const std::string& text) {
  const uint64_t now = sc_core::sc_get_curr_simcontext() ? sc_core::sc_time_stamp().value() : 0;
  const double ps_per_unit = sc_core::sc_get_time_resolution().to_seconds() * 1e12;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    const size_t end = nl == std::string::npos ? text.size() : nl;
    if (end > start || nl != std::string::npos)
      m_lines.push_back(LogLine{static_cast<uint64_t>(double(now) * ps_per_unit), level, text.substr(start, end - start)});
    if (nl == std::string::npos || nl + 1 == text.size()) break;
    start = nl + 1;
  }
}

void KernelLog::printk(const std::string& text) {
  // KERN_SOH "\001" then the level digit (include/linux/kern_levels.h).
  if (text.size() >= 2 && text[0] == '\001' && text[1] >= '0' && text[1] <= '7') {
    log(static_cast<LogLevel>(text[1] - '0'), text.substr(2));
    return;
  }
  log(LogLevel::Info, text);
}

std::string KernelLog::dmesg() const {
  std::string out;
  char stamp[32];
  for (const LogLine& l : m_lines) {
    // dmesg: seconds with microseconds, right-aligned in 12 characters.
    const uint64_t us = l.time_ps / 1'000'000;
    std::snprintf(stamp, sizeof stamp, "[%5llu.%06llu] ", static_cast<unsigned long long>(us / 1'000'000),
                  static_cast<unsigned long long>(us % 1'000'000));
    out += stamp;
    out += l.text;
    out += '\n';
  }
  return out;
}

std::vector<std::string> KernelLog::grep(const std::string& needle) const {
  std::vector<std::string> out;
  for (const LogLine& l : m_lines)
    if (l.text.find(needle) != std::string::npos) out.push_back(l.text);
  return out;
}

}  // namespace pciesim::cosim
