// Numbers and `count` templates of the topology format: integer literals with size suffixes,
// a tiny integer expression language, and `{expr}` substitution in names and numeric fields.
// Plain C++, no YAML: the loader turns TemplateError into a TopologyError at the right line.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pciesim::topo {

class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Variables bound by enclosing `count` items; the innermost binding of a name wins.
class TemplateScope {
 public:
  void push(std::string name, int64_t value) { m_vars.emplace_back(std::move(name), value); }
  void pop() { m_vars.pop_back(); }
  std::optional<int64_t> lookup(std::string_view name) const;
  bool empty() const { return m_vars.empty(); }

 private:
  std::vector<std::pair<std::string, int64_t>> m_vars;
};

// An unsigned literal: decimal, 0x hex, 0o octal or 0b binary, '_' allowed between digits, with
// an optional binary size suffix (KiB, MiB, GiB, TiB, PiB; a space before it is allowed).
// Returns nullopt on bad syntax or overflow; `why` then says which.
std::optional<uint64_t> parse_unsigned(std::string_view text, std::string* why = nullptr);

// Evaluates an integer expression: literals as above, variables of `scope`, unary minus,
// + - * / % << >> and parentheses, with C precedence. Overflow and division by zero throw.
int64_t evaluate_expression(std::string_view expr, const TemplateScope& scope);

// True when `text` contains a brace, i.e. needs expand_template.
bool has_template(std::string_view text);

// True when `text` is exactly one "{expr}" with nothing around it.
bool is_single_expression(std::string_view text);

// Replaces every {expr} or {expr:fmt} with its value. fmt is [0][width](d|x|X), e.g. {i:02x}.
// "{{" and "}}" stand for literal braces.
std::string expand_template(std::string_view text, const TemplateScope& scope);

}  // namespace pciesim::topo
