// printk, the kernel's vsnprintf with its %p extensions, dev_printk, BUG/WARN (linux/printk.h,
// linux/kernel.h, linux/device.h).
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernel/irq_core.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;

namespace {

std::string format_resource(const struct resource* r, bool with_flags) {
  char b[128];
  const bool io = r->flags & IORESOURCE_IO;
  std::snprintf(b, sizeof b, "[%s %#llx-%#llx%s%s%s]", io ? "io " : "mem", (unsigned long long)r->start,
                (unsigned long long)r->end, with_flags && (r->flags & IORESOURCE_MEM_64) ? " 64bit" : "",
                with_flags && (r->flags & IORESOURCE_PREFETCH) ? " pref" : "",
                with_flags && (r->flags & IORESOURCE_DISABLED) ? " disabled" : "");
  return b;
}

// One conversion with the kernel's rules; appends to out.
void convert(std::string& out, const std::string& spec, char conv, const char*& fmt, va_list& ap) {
  char buf[512];
  // Length modifier
  std::string mods;
  size_t i = spec.size();
  while (i > 1 && std::strchr("hlLqjzt", spec[i - 1])) --i;
  mods = spec.substr(i);
  switch (conv) {
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
    case 'c': {
      const std::string f = spec + conv;
      if (mods == "ll" || mods == "L" || mods == "q" || mods == "j") std::snprintf(buf, sizeof buf, f.c_str(), va_arg(ap, long long));
      else if (mods == "l" || mods == "z" || mods == "t") std::snprintf(buf, sizeof buf, f.c_str(), va_arg(ap, long));
      else std::snprintf(buf, sizeof buf, f.c_str(), va_arg(ap, int));
      out += buf;
      return;
    }
    case 's': {
      const char* s = va_arg(ap, const char*);
      std::snprintf(buf, sizeof buf, (spec + 's').c_str(), s ? s : "(null)");
      out += buf;
      return;
    }
    case 'p': {
      const void* p = va_arg(ap, const void*);
      const char ext = *fmt;
      if (ext == 'a') {  // %pa[p] / %pad: the address the pointer points to, zero-padded hex
        ++fmt;
        if (*fmt == 'd' || *fmt == 'p') ++fmt;
        const unsigned long long v = p ? *static_cast<const unsigned long long*>(p) : 0;
        std::snprintf(buf, sizeof buf, "0x%016llx", v);
        out += buf;
        return;
      }
      if (ext == 'R' || ext == 'r') {
        ++fmt;
        out += p ? format_resource(static_cast<const struct resource*>(p), ext == 'R') : "(null)";
        return;
      }
      while (*fmt && std::isalnum(static_cast<unsigned char>(*fmt))) ++fmt;  // other extensions: plain pointer
      std::snprintf(buf, sizeof buf, "%p", p);
      out += buf;
      return;
    }
    case 'e':
    case 'f':
    case 'g':
      out += "(float)";  // the kernel has no floating point in printk
      (void)va_arg(ap, double);
      return;
    default:
      out += spec + conv;
  }
}

}  // namespace

extern "C" int cosim_vsnprintf(char* buf, size_t size, const char* fmt, va_list args) {
  std::string out;
  va_list ap;
  va_copy(ap, args);
  for (const char* f = fmt; *f;) {
    if (*f != '%') {
      out += *f++;
      continue;
    }
    if (f[1] == '%') {
      out += '%';
      f += 2;
      continue;
    }
    std::string spec = "%";
    ++f;
    while (*f && std::strchr("-+ #0", *f)) spec += *f++;
    if (*f == '*') {
      spec += std::to_string(va_arg(ap, int));
      ++f;
    }
    while (*f && std::isdigit(static_cast<unsigned char>(*f))) spec += *f++;
    if (*f == '.') {
      spec += *f++;
      if (*f == '*') {
        spec += std::to_string(va_arg(ap, int));
        ++f;
      }
      while (*f && std::isdigit(static_cast<unsigned char>(*f))) spec += *f++;
    }
    while (*f && std::strchr("hlLqjzt", *f)) spec += *f++;
    if (!*f) break;
    const char conv = *f++;
    convert(out, spec, conv, f, ap);
  }
  va_end(ap);
  if (size) {
    const size_t n = std::min(out.size(), size - 1);
    std::memcpy(buf, out.data(), n);
    buf[n] = '\0';
  }
  return static_cast<int>(out.size());
}

extern "C" int cosim_snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = cosim_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

extern "C" int cosim_scnprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = cosim_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  if (size == 0) return 0;
  return n < static_cast<int>(size) ? n : static_cast<int>(size) - 1;
}

namespace {
std::string vformat(const char* fmt, va_list ap) {
  va_list a2;
  va_copy(a2, ap);
  char small[512];
  const int n = cosim_vsnprintf(small, sizeof small, fmt, a2);
  va_end(a2);
  if (n < static_cast<int>(sizeof small)) return small;
  std::string big(static_cast<size_t>(n) + 1, '\0');
  cosim_vsnprintf(big.data(), big.size(), fmt, ap);
  big.resize(static_cast<size_t>(n));
  return big;
}
void log_text(const std::string& text) {
  if (Kernel* k = Kernel::current_or_null()) k->log().printk(text);
  else std::fputs(text.c_str(), stderr);
}
}  // namespace

extern "C" int _printk(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::string s = vformat(fmt, ap);
  va_end(ap);
  log_text(s);
  return static_cast<int>(s.size());
}

extern "C" const char* dev_driver_string(const struct device* dev) {
  if (dev->driver && dev->driver->name) return dev->driver->name;
  return dev->bus && dev->bus->name ? dev->bus->name : "";
}

extern "C" void _dev_printk(const char* level, const struct device* dev, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::string body = vformat(fmt, ap);
  va_end(ap);
  std::string prefix = level ? level : "";
  if (dev) prefix += std::string(dev_driver_string(dev)) + " " + dev_name(dev) + ": ";
  log_text(prefix + body);
}

extern "C" int dev_err_probe(const struct device* dev, int err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::string body = vformat(fmt, ap);
  va_end(ap);
  if (err != -EPROBE_DEFER) {
    std::string line = std::string(KERN_ERR) + dev_driver_string(dev) + " " + dev_name(dev) + ": error " +
                       std::to_string(err) + ": " + body;
    log_text(line);
  }
  return err;
}

extern "C" void cosim_bug(const char* file, int line) {
  char b[256];
  std::snprintf(b, sizeof b, KERN_CRIT "kernel BUG at %s:%d!\n", file, line);
  log_text(b);
  throw pciesim::cosim::KernelBug(std::string("kernel BUG at ") + file + ":" + std::to_string(line));
}

extern "C" void cosim_warn(const char* file, int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const std::string body = vformat(fmt, ap);
  va_end(ap);
  char b[256];
  std::snprintf(b, sizeof b, KERN_WARNING "WARNING: CPU: 0 at %s:%d: ", file, line);
  log_text(std::string(b) + body + "\n");
}

extern "C" void cosim_might_sleep(const char* file, int line) {
  Kernel* k = Kernel::current_or_null();
  if (!k) return;
  pciesim::cosim::Scheduler& s = k->scheduler();
  if (s.atomic_depth() == 0) return;
  char b[256];
  std::snprintf(b, sizeof b, KERN_ERR "BUG: sleeping function called from invalid context at %s:%d\n", file, line);
  log_text(b);
  std::snprintf(b, sizeof b, KERN_ERR "in_atomic(): 1, irqs_disabled(): %d, pid: 0, name: %s\n",
                k->irq().disabled() ? 1 : 0, s.current_name().c_str());
  log_text(b);
}

namespace {
template <class T>
int kstrto(const char* s, unsigned base, T* res, bool is_signed) {
  if (!s || !*s) return -EINVAL;
  std::string v = s;
  if (!v.empty() && v.back() == '\n') v.pop_back();  // sysfs writes end in a newline
  if (v.empty()) return -EINVAL;
  errno = 0;
  char* end = nullptr;
  if (is_signed) {
    const long long x = std::strtoll(v.c_str(), &end, static_cast<int>(base));
    if (errno == ERANGE || *end) return errno == ERANGE ? -ERANGE : -EINVAL;
    if (x < static_cast<long long>(std::numeric_limits<T>::min()) || x > static_cast<long long>(std::numeric_limits<T>::max())) return -ERANGE;
    *res = static_cast<T>(x);
  } else {
    if (v[0] == '-') return -EINVAL;
    const unsigned long long x = std::strtoull(v.c_str(), &end, static_cast<int>(base));
    if (errno == ERANGE || *end) return errno == ERANGE ? -ERANGE : -EINVAL;
    if (x > static_cast<unsigned long long>(std::numeric_limits<T>::max())) return -ERANGE;
    *res = static_cast<T>(x);
  }
  return 0;
}
}  // namespace

extern "C" int kstrtoint(const char* s, unsigned int base, int* res) { return kstrto(s, base, res, true); }
extern "C" int kstrtouint(const char* s, unsigned int base, unsigned int* res) { return kstrto(s, base, res, false); }
extern "C" int kstrtoull(const char* s, unsigned int base, unsigned long long* res) { return kstrto(s, base, res, false); }
extern "C" int kstrtobool(const char* s, bool* res) {
  if (!s) return -EINVAL;
  switch (s[0]) {
    case 'y': case 'Y': case '1': *res = true; return 0;
    case 'n': case 'N': case '0': *res = false; return 0;
    case 'o': case 'O':
      if (s[1] == 'n' || s[1] == 'N') { *res = true; return 0; }
      if (s[1] == 'f' || s[1] == 'F') { *res = false; return 0; }
      return -EINVAL;
    default: return -EINVAL;
  }
}
