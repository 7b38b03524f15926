#pragma once
// A strict checker of the Prometheus text exposition format (0.0.4), for the tests: what
// `promtool check metrics` checks and what node_exporter's textfile collector refuses, so the
// metrics are checked whether or not promtool (Debian package `prometheus`) is installed.
// Stricter than the format on purpose: every family has HELP and TYPE before its samples,
// names appear once and contiguously, counters end in _total, no blank lines, no duplicate
// series, the text ends with a newline.
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace prom_lint {

inline bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
inline bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

inline bool valid_metric_name(std::string_view s) {
  if (s.empty() || !name_start(s[0])) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

inline bool valid_label_name(std::string_view s) {
  if (s.empty() || s[0] == ':' || !name_start(s[0])) return false;
  for (char c : s)
    if (!name_char(c) || c == ':') return false;
  return s.substr(0, 2) != "__";  // reserved
}

// Go's strconv.ParseFloat forms the format allows, plus NaN and (+/-)Inf.
inline bool valid_value(const std::string& s, double& out) {
  if (s == "NaN") return out = NAN, true;
  if (s == "+Inf" || s == "Inf") return out = INFINITY, true;
  if (s == "-Inf") return out = -INFINITY, true;
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  for (char c : s)  // strtod also takes "nan", "infinity", hex floats: not the format's
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return false;
  return true;
}

struct Family {
  std::string type;
  bool help = false;
  bool has_samples = false;
};

// The problems found, each "line N: what"; empty when the text is fine.
inline std::vector<std::string> check(const std::string& text) {
  std::vector<std::string> problems;
  auto problem = [&](std::size_t line, const std::string& what) {
    problems.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (text.empty()) return {"empty exposition"};
  if (text.back() != '\n') problems.push_back("the text does not end with a newline");

  std::map<std::string, Family> families;
  std::set<std::string> finished;  // families whose samples ended (a later one came)
  std::string current;             // the family of the last HELP/TYPE/sample
  std::set<std::string> series;
  auto switch_to = [&](std::size_t n, const std::string& family) {
    if (family == current) return;
    if (finished.count(family)) problem(n, family + " appears again after other families (one group per name)");
    if (!current.empty()) finished.insert(current);
    current = family;
  };

  std::size_t n = 0, start = 0;
  while (start < text.size()) {
    ++n;
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty()) {
      problem(n, "blank line");
      continue;
    }
    if (line[0] == '#') {
      // "# HELP name text" | "# TYPE name type" | other comments
      std::string_view rest(line);
      const bool help = rest.substr(0, 7) == "# HELP ", type = rest.substr(0, 7) == "# TYPE ";
      if (!help && !type) continue;
      rest.remove_prefix(7);
      const auto sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      const std::string arg(sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1));
      if (!valid_metric_name(name)) {
        problem(n, "bad metric name \"" + name + "\"");
        continue;
      }
      switch_to(n, name);
      Family& f = families[name];
      if (f.has_samples) problem(n, name + ": HELP/TYPE after its samples");
      if (help) {
        if (f.help) problem(n, name + ": second HELP");
        f.help = true;
        if (arg.empty()) problem(n, name + ": empty HELP");
        for (std::size_t i = 0; i < arg.size(); ++i)
          if (arg[i] == '\\' && (i + 1 >= arg.size() || (arg[i + 1] != '\\' && arg[i + 1] != 'n')))
            problem(n, name + ": bad escape in HELP");
          else if (arg[i] == '\\')
            ++i;
      } else {
        if (!f.type.empty()) problem(n, name + ": second TYPE");
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(arg)) problem(n, name + ": unknown type \"" + arg + "\"");
        f.type = arg;
        if (arg == "counter" && (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0))
          problem(n, name + ": a counter's name should end in _total");
      }
      continue;
    }

    // A sample: name{labels} value [timestamp]
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i])) ++i;
    const std::string name = line.substr(0, i);
    if (!valid_metric_name(name)) {
      problem(n, "bad sample name in \"" + line + "\"");
      continue;
    }
    // Which family: the name itself, or a summary's / histogram's _sum, _count, _bucket.
    std::string family = name;
    std::string suffix;
    if (!families.count(name))
      for (const char* s : {"_sum", "_count", "_bucket"}) {
        const std::string sfx(s);
        if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            families.count(name.substr(0, name.size() - sfx.size()))) {
          family = name.substr(0, name.size() - sfx.size());
          suffix = sfx;
        }
      }
    auto fam = families.find(family);
    if (fam == families.end() || fam->second.type.empty() || !fam->second.help) {
      problem(n, name + ": sample without HELP and TYPE before it");
      if (fam == families.end()) fam = families.emplace(family, Family{}).first;
    }
    const std::string& type = fam->second.type;
    if (!suffix.empty() && !((type == "summary" && suffix != "_bucket") || type == "histogram"))
      problem(n, name + ": " + suffix + " sample in a " + type + " family");
    switch_to(n, family);
    fam->second.has_samples = true;

    std::map<std::string, std::string> labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      for (;;) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        std::size_t j = i;
        while (j < line.size() && name_char(line[j])) ++j;
        const std::string lname = line.substr(i, j - i);
        if (!valid_label_name(lname)) {
          problem(n, name + ": bad label name \"" + lname + "\"");
          break;
        }
        if (j + 1 >= line.size() || line[j] != '=' || line[j + 1] != '"') {
          problem(n, name + ": label " + lname + " without =\"value\"");
          break;
        }
        j += 2;
        std::string value;
        bool closed = false;
        for (; j < line.size(); ++j) {
          if (line[j] == '\\') {
            if (j + 1 >= line.size() || (line[j + 1] != '\\' && line[j + 1] != '"' && line[j + 1] != 'n')) {
              problem(n, name + ": bad escape in label " + lname);
              break;
            }
            value += line[++j];
          } else if (line[j] == '"') {
            closed = true;
            ++j;
            break;
          } else {
            value += line[j];
          }
        }
        if (!closed) {
          problem(n, name + ": unterminated value of label " + lname);
          i = line.size();
          break;
        }
        if (!labels.emplace(lname, value).second) problem(n, name + ": label " + lname + " twice");
        i = j;
        if (i < line.size() && line[i] == ',') ++i;
        else if (i < line.size() && line[i] == '}') continue;
        else {
          problem(n, name + ": expected , or } after label " + lname);
          break;
        }
      }
    }
    if (i >= line.size() || line[i] != ' ') {
      problem(n, name + ": expected a space and a value");
      continue;
    }
    const std::string rest = line.substr(i + 1);
    const auto sp = rest.find(' ');
    double value = 0;
    if (!valid_value(rest.substr(0, sp), value)) {
      problem(n, name + ": bad value \"" + rest.substr(0, sp) + "\"");
      continue;
    }
    if (sp != std::string::npos) {
      const std::string ts = rest.substr(sp + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos)
        problem(n, name + ": bad timestamp \"" + ts + "\"");
    }
    if (type == "counter" && !(value >= 0)) problem(n, name + ": a counter must be >= 0 and a number");
    if (type == "summary" && suffix.empty() && !labels.count("quantile"))
      problem(n, name + ": a summary's sample needs a quantile label");
    std::string key = name + "{";
    for (const auto& [k, v] : labels) key += k + "=" + v + ",";
    if (!series.insert(key).second) problem(n, name + ": the same series twice");
  }
  for (const auto& [name, f] : families)
    if (!f.has_samples && f.type != "summary" && f.type != "histogram" && f.type.empty())
      problems.push_back(name + ": HELP without TYPE");
  return problems;
}

}  // namespace prom_lint
