#include "pcie/topology/template_expr.h"

#include <cctype>
#include <climits>
#include <cstring>

namespace pciesim::topo {

namespace {

constexpr size_t kMaxExpressionLength = 256;
constexpr int kMaxParenDepth = 16;
constexpr int kMaxFormatWidth = 20;

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

struct Suffix {
  const char* text;
  unsigned shift;
};
constexpr Suffix kSuffixes[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"PiB", 50}};

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Reads the longest literal at the front of `s` (digits, '_', suffix) and returns its length.
size_t literal_length(std::string_view s) {
  size_t n = 0;
  if (s.size() >= 2 && s[0] == '0' && std::strchr("xXoObB", s[1])) n = 2;
  while (n < s.size() && (std::isxdigit(static_cast<unsigned char>(s[n])) || s[n] == '_')) ++n;
  size_t k = n;
  while (k < s.size() && s[k] == ' ') ++k;
  for (const Suffix& suf : kSuffixes) {
    std::string_view t(suf.text);
    if (s.substr(k, t.size()) == t) return k + t.size();
  }
  return n;
}

class ExprParser {
 public:
  ExprParser(std::string_view text, const TemplateScope& scope) : m_text(text), m_scope(scope) {}

  int64_t parse() {
    if (m_text.size() > kMaxExpressionLength) throw TemplateError("expression is too long");
    int64_t v = sum();
    skip_space();
    if (m_pos != m_text.size())
      throw TemplateError("unexpected '" + std::string(1, m_text[m_pos]) + "' in expression '" +
                          std::string(m_text) + "'");
    return v;
  }

 private:
  void skip_space() {
    while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos]))) ++m_pos;
  }
  bool accept(std::string_view op) {
    skip_space();
    if (m_text.substr(m_pos, op.size()) != op) return false;
    m_pos += op.size();
    return true;
  }
  static void check_overflow(bool overflow) {
    if (overflow) throw TemplateError("integer overflow in expression");
  }

  // Lowest precedence first: shifts, then + -, then * / %, then unary.
  int64_t sum() { return shift(); }
  int64_t shift() {
    int64_t v = additive();
    for (;;) {
      if (accept("<<")) {
        int64_t n = additive();
        if (n < 0 || n > 62 || v < 0 || (v >> (62 - n)) != 0) throw TemplateError("integer overflow in expression");
        v <<= n;
      } else if (accept(">>")) {
        int64_t n = additive();
        if (n < 0 || n > 63) throw TemplateError("shift count out of range in expression");
        v >>= n;
      } else {
        return v;
      }
    }
  }
  int64_t additive() {
    int64_t v = term();
    for (;;) {
      if (accept("+")) {
        check_overflow(__builtin_add_overflow(v, term(), &v));
      } else if (accept("-")) {
        check_overflow(__builtin_sub_overflow(v, term(), &v));
      } else {
        return v;
      }
    }
  }
  int64_t term() {
    int64_t v = unary();
    for (;;) {
      if (accept("*")) {
        check_overflow(__builtin_mul_overflow(v, unary(), &v));
      } else if (accept("/") || accept("%")) {
        bool mod = m_text[m_pos - 1] == '%';
        int64_t t = unary();
        if (t == 0) throw TemplateError("division by zero in expression");
        if (v == INT64_MIN && t == -1) throw TemplateError("integer overflow in expression");
        v = mod ? v % t : v / t;
      } else {
        return v;
      }
    }
  }
  int64_t unary() {
    if (accept("-")) {
      int64_t v = unary();
      if (v == INT64_MIN) throw TemplateError("integer overflow in expression");
      return -v;
    }
    if (accept("+")) return unary();
    return primary();
  }
  int64_t primary() {
    skip_space();
    if (m_pos >= m_text.size()) throw TemplateError("expression '" + std::string(m_text) + "' ends early");
    char c = m_text[m_pos];
    if (c == '(') {
      if (++m_depth > kMaxParenDepth) throw TemplateError("expression nests too deeply");
      ++m_pos;
      int64_t v = sum();
      if (!accept(")")) throw TemplateError("missing ')' in expression '" + std::string(m_text) + "'");
      --m_depth;
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t n = literal_length(m_text.substr(m_pos));
      std::string why;
      auto v = parse_unsigned(m_text.substr(m_pos, n), &why);
      if (!v) throw TemplateError(why);
      if (*v > static_cast<uint64_t>(INT64_MAX)) throw TemplateError("integer overflow in expression");
      m_pos += n;
      return static_cast<int64_t>(*v);
    }
    if (is_ident_start(c)) {
      size_t start = m_pos;
      while (m_pos < m_text.size() && is_ident_char(m_text[m_pos])) ++m_pos;
      std::string_view name = m_text.substr(start, m_pos - start);
      if (auto v = m_scope.lookup(name)) return *v;
      throw TemplateError("unknown variable '" + std::string(name) + "'" +
                          (m_scope.empty() ? " (no enclosing count)" : ""));
    }
    throw TemplateError("unexpected '" + std::string(1, c) + "' in expression '" + std::string(m_text) + "'");
  }

  std::string_view m_text;
  const TemplateScope& m_scope;
  size_t m_pos = 0;
  int m_depth = 0;
};

std::string format_value(int64_t v, std::string_view fmt) {
  bool zero = false;
  int width = 0;
  char kind = 'd';
  size_t i = 0;
  if (i < fmt.size() && fmt[i] == '0') {
    zero = true;
    ++i;
  }
  while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
    width = width * 10 + (fmt[i] - '0');
    if (width > kMaxFormatWidth) throw TemplateError("format width too large");
    ++i;
  }
  if (i < fmt.size()) kind = fmt[i++];
  if (i != fmt.size() || (kind != 'd' && kind != 'x' && kind != 'X'))
    throw TemplateError("bad format '" + std::string(fmt) + "' (use d, x or X with an optional width, e.g. 02x)");
  bool negative = v < 0;
  uint64_t mag = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string digits;
  unsigned base = kind == 'd' ? 10 : 16;
  const char* alphabet = kind == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits.insert(digits.begin(), alphabet[mag % base]);
    mag /= base;
  } while (mag);
  size_t total = digits.size() + (negative ? 1 : 0);
  if (static_cast<size_t>(width) > total) digits.insert(0, width - total, zero ? '0' : ' ');
  if (negative) digits.insert(0, 1, '-');
  return digits;
}

}  // namespace

std::optional<int64_t> TemplateScope::lookup(std::string_view name) const {
  for (auto it = m_vars.rbegin(); it != m_vars.rend(); ++it)
    if (it->first == name) return it->second;
  return std::nullopt;
}

std::optional<uint64_t> parse_unsigned(std::string_view text, std::string* why) {
  auto fail = [&](const std::string& msg) -> std::optional<uint64_t> {
    if (why) *why = msg;
    return std::nullopt;
  };
  std::string_view s = text;
  unsigned shift = 0;
  for (const Suffix& suf : kSuffixes) {
    std::string_view t(suf.text);
    if (s.size() > t.size() && s.substr(s.size() - t.size()) == t) {
      s.remove_suffix(t.size());
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      shift = suf.shift;
      break;
    }
  }
  unsigned base = 10;
  if (s.size() > 2 && s[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if (p == 'x') base = 16;
    if (p == 'o') base = 8;
    if (p == 'b') base = 2;
    if (base != 10) s.remove_prefix(2);
  }
  if (s.empty() || s.front() == '_' || s.back() == '_') return fail("'" + std::string(text) + "' is not a number");
  uint64_t v = 0;
  for (char c : s) {
    if (c == '_') continue;
    int d = digit_value(c);
    if (d >= static_cast<int>(base)) return fail("'" + std::string(text) + "' is not a number");
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(d), &v))
      return fail("'" + std::string(text) + "' does not fit in 64 bits");
  }
  if (shift && (v >> (64 - shift)) != 0) return fail("'" + std::string(text) + "' does not fit in 64 bits");
  return v << shift;
}

int64_t evaluate_expression(std::string_view expr, const TemplateScope& scope) {
  return ExprParser(expr, scope).parse();
}

bool has_template(std::string_view text) {
  return text.find('{') != std::string_view::npos || text.find('}') != std::string_view::npos;
}

bool is_single_expression(std::string_view text) {
  return text.size() >= 2 && text.front() == '{' && text.back() == '}' &&
         text.find_first_of("{}", 1) == text.size() - 1;
}

std::string expand_template(std::string_view text, const TemplateScope& scope) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      throw TemplateError("unmatched '}' in '" + std::string(text) + "' (write }} for a literal brace)");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos)
      throw TemplateError("unmatched '{' in '" + std::string(text) + "'");
    std::string_view body = text.substr(i + 1, close - i - 1);
    std::string_view fmt;
    if (size_t colon = body.find(':'); colon != std::string_view::npos) {
      fmt = body.substr(colon + 1);
      body = body.substr(0, colon);
    }
    out += format_value(evaluate_expression(body, scope), fmt);
    i = close + 1;
  }
  return out;
}

}  // namespace pciesim::topo
