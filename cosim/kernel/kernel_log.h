// The co-simulated kernel's log buffer (dmesg): printk, dev_* and pr_* lines with their level and
// the simulated time they were written at, formatted as dmesg prints them
// ("[    0.000123] DMAR: ..."). Tests and the CLI read it; nothing is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pciesim::cosim {

// printk levels, as KERN_EMERG ("0") .. KERN_DEBUG ("7").
enum class LogLevel : uint8_t { Emerg, Alert, Crit, Err, Warning, Notice, Info, Debug };
const char* to_string(LogLevel l);

struct LogLine {
  uint64_t time_ps = 0;   // simulated time
  LogLevel level = LogLevel::Info;
  std::string text;       // one line, no trailing newline
};

class KernelLog {
 public:
  // Appends `text`, split at newlines (an empty last piece is dropped), stamped with the current
  // simulated time (0 outside a SystemC simulation).
  void log(LogLevel level, const std::string& text);
  // printk()-style: a leading KERN_<LEVEL> prefix ("\001" + digit) selects the level, else Info.
  void printk(const std::string& text);

  const std::vector<LogLine>& lines() const { return m_lines; }
  // Every line as dmesg prints it, newline-terminated.
  std::string dmesg() const;
  // Lines containing `needle`, in order.
  std::vector<std::string> grep(const std::string& needle) const;
  void clear() { m_lines.clear(); }

 private:
  std::vector<LogLine> m_lines;
};

}  // namespace pciesim::cosim
