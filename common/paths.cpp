#include "common/paths.hpp"

#include <cstdlib>
#include <system_error>

namespace vermas {

fs::path Paths::assignment_file(std::string_view factory, int slot) const {
  return work_dir() / (".assignment-" + std::string(factory) + "-workers-slot" + std::to_string(slot));
}

namespace {

fs::path absolute_normal(const fs::path& p, const fs::path& cwd) {
  fs::path abs = p.is_absolute() ? p : cwd / p;
  return abs.lexically_normal();
}

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  return "/";
}

}  // namespace

RootChoice discover_company_root(const std::optional<std::string>& flag, const fs::path& cwd) {
  if (flag && !flag->empty()) return {absolute_normal(*flag, cwd), RootSource::flag};
  if (const char* env = std::getenv("COMPANY_ROOT"); env && *env)
    return {absolute_normal(env, cwd), RootSource::environment};
  std::error_code ec;
  for (fs::path dir = absolute_normal(cwd, "/");; dir = dir.parent_path()) {
    if (fs::is_directory(dir / ".vermas", ec)) return {dir, RootSource::parent_directory};
    if (dir == dir.root_path() || dir.empty()) break;
  }
  return {home_dir() / "company", RootSource::home_default};
}

const char* to_string(RootSource source) {
  switch (source) {
    case RootSource::flag: return "--company-root";
    case RootSource::environment: return "$COMPANY_ROOT";
    case RootSource::parent_directory: return "nearest parent with .vermas/";
    case RootSource::home_default: return "~/company";
  }
  return "?";
}

fs::path socket_path_for(const Paths& paths, const std::optional<std::string>& configured) {
  if (!configured || configured->empty()) return paths.default_socket();
  fs::path p(*configured);
  return p.is_absolute() ? p : (paths.root / p).lexically_normal();
}

bool valid_factory_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_digit(name[0])) return false;
  for (char c : name)
    if (!lower_digit(c) && c != '_' && c != '-') return false;
  return true;
}

}  // namespace vermas
