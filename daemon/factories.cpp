#include "daemon/factories.hpp"
#include "daemon/error.hpp"
#include "common/json.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "daemon/work/git.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

namespace fs = std::filesystem;

namespace {

constexpr auto kCloneTimeout = std::chrono::minutes(30);
constexpr std::size_t kMaxUrl = 4096;

bool valid_prefix(const std::string& p) {
  if (p.empty() || p.size() > 12 || !(p[0] >= 'a' && p[0] <= 'z')) return false;
  for (char c : p)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

// git would take "-..." as an option and a newline or NUL cannot be part of a URL or path.
std::optional<std::string> url_problem(const std::string& url) {
  if (url.empty()) return "is empty";
  if (url.size() > kMaxUrl) return "is longer than 4096 bytes";
  if (url[0] == '-') return "must not start with '-'";
  for (unsigned char c : url)
    if (c < 0x20 || c == 0x7f) return "contains a control character";
  return std::nullopt;
}

std::string factory_config_text(const std::string& name, const std::optional<std::string>& prefix) {
  std::string text = default_factory_config_text(name);
  if (prefix) {
    // Replace the derived prefix line with the requested one.
    std::regex line(R"(prefix = "[^"]*")");
    text = std::regex_replace(text, line, "prefix = \"" + *prefix + "\"", std::regex_constants::format_first_only);
  }
  return text;
}

std::vector<std::string> output_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!cur.empty()) lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

// Keeps a name reserved while its clone runs, released however the coroutine ends.
class AddingGuard {
 public:
  AddingGuard(std::set<std::string>& set, std::string name) : set_(set), name_(std::move(name)) { set_.insert(name_); }
  ~AddingGuard() { set_.erase(name_); }
  AddingGuard(const AddingGuard&) = delete;
  AddingGuard& operator=(const AddingGuard&) = delete;

 private:
  std::set<std::string>& set_;
  std::string name_;
};

}  // namespace

// Directories of the company root itself (R/logs, R/reports): a factory's clone is R/<name>.
bool reserved_factory_name(const std::string& name) { return name == "logs" || name == "reports"; }

json to_json(const FactoryRecord& f) {
  return {{"name", f.name}, {"url", f.url}, {"prefix", f.prefix}, {"path", f.path}, {"added_at", f.added_at}};
}

json to_json(const TeamRecord& t) {
  return {{"factory", t.factory}, {"name", t.name}, {"path", t.path}, {"branch", t.branch},
          {"created_at", t.created_at}};
}

Factories::Factories(Journal& journal, Paths paths) : journal_(journal), paths_(std::move(paths)) {}

void Factories::load() {
  factories_.clear();
  sql::Stmt s(journal_.store().statements(), "SELECT name, url, prefix, path, added_at FROM factories",
              "loading factories");
  while (s.step()) {
    FactoryRecord f{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)};
    factories_[f.name] = f;
  }
}

const FactoryRecord* Factories::find(const std::string& name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : &it->second;
}

const FactoryRecord& Factories::require(const std::string& name) const {
  if (auto f = find(name)) return *f;
  throw Error(Errc::not_found, "no factory named '" + name + "' (see: co factory list)",
                   json{{"factory", name}});
}

boost::asio::awaitable<FactoryRecord> Factories::add(std::string name, std::string url,
                                                     std::optional<std::string> prefix, std::string actor) {
  if (!valid_factory_name(name) || reserved_factory_name(name))
    throw Error(Errc::invalid_argument,
                     "name: '" + name + "' is not a factory name: use 1-32 of [a-z0-9_-], starting with a letter or digit" +
                         (reserved_factory_name(name) ? " (and not 'logs' or 'reports', which the company root uses)" : ""),
                     json{{"field", "name"}});
  if (auto problem = url_problem(url))
    throw Error(Errc::invalid_argument, "url " + *problem, json{{"field", "url"}});
  if (prefix && !valid_prefix(*prefix))
    throw Error(Errc::invalid_argument, "prefix: use 1-12 lowercase letters and digits, starting with a letter",
                     json{{"field", "prefix"}});
  if (find(name) || adding_.count(name))
    throw Error(Errc::conflict, "factory '" + name + "' already exists", json{{"factory", name}});
  const fs::path dest = paths_.factory_dir(name);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dest, ec)))
    throw Error(Errc::conflict,
                     dest.string() + " already exists; move it away or choose another name",
                     json{{"factory", name}, {"path", dest.string()}});

  // Cloned beside the destination, then renamed: nothing half-made ever sits at R/<name>.
  const fs::path staging = paths_.work_dir() / "clones" / (name + "." + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directories(staging.parent_path(), ec);
  AddingGuard guard(adding_, name);

  spdlog::info("factory {}: cloning {}", name, url);
  // (Arguments built before the co_await: GCC 12 cannot keep an initializer_list's
  // array alive across a suspension inside the same expression.)
  std::vector<std::string> args = {"clone", "--", url, staging.string()};
  auto result = co_await git::run(std::move(args), paths_.root, kCloneTimeout);
  for (const auto& line : output_lines(result.output))
    spdlog::info("factory {}: git: {}", name, line);
  if (!result.ok()) {
    fs::remove_all(staging, ec);
    spdlog::warn("factory {}: clone of {} failed: {}", name, url, result.describe());
    throw Error(Errc::conflict, "git clone failed: " + result.describe(),
                     json{{"factory", name}, {"url", url}, {"git", result.output.substr(0, 4000)}});
  }
  FactoryRecord f = install(name, url, prefix, staging, actor);
  co_return f;
}

FactoryRecord Factories::install(const std::string& name, const std::string& url,
                                 const std::optional<std::string>& prefix, const fs::path& staging,
                                 const std::string& actor) {
  const fs::path dest = paths_.factory_dir(name);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dest, ec))) {
    fs::remove_all(staging, ec);
    throw Error(Errc::conflict, dest.string() + " appeared while cloning; nothing registered",
                     json{{"factory", name}});
  }
  fs::rename(staging, dest, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    throw Error(Errc::internal, "moving the clone to " + dest.string() + ": " + ec.message());
  }

  auto rollback = [&] {
    std::error_code ignore;
    fs::remove_all(dest, ignore);
  };
  FactoryRecord f{name, url, prefix.value_or(derive_prefix(name)), dest.string(), now_rfc3339_ms()};
  try {
    fs::create_directories(dest / ".work");
    {
      std::ofstream out(dest / ".work" / "config.toml");
      out << factory_config_text(name, prefix);
      if (!out) throw std::runtime_error("writing " + (dest / ".work" / "config.toml").string());
    }
    git::exclude(dest, ".work/");
    git::exclude(dest, ".worktrees/");
    // The row is the reducer's (daemon/store/projections.cpp), folded from this event.
    journal_.commit([&](Store::Tx& tx) {
      const Event& e = tx.append({"factory.added", actor, name, name, {{"url", url}, {"prefix", f.prefix}, {"path", f.path}}});
      f.added_at = e.ts;
    });
  } catch (const Error&) {
    rollback();
    throw;
  } catch (const std::exception& e) {
    rollback();
    throw Error(Errc::internal, std::string("registering the factory: ") + e.what());
  }
  factories_[name] = f;
  spdlog::info("factory {} added ({})", name, dest.string());
  return f;
}

void Factories::remove(const std::string& name, const std::string& actor, const std::vector<std::string>& stopped) {
  const FactoryRecord f = require(name);
  journal_.commit([&](Store::Tx& tx) {  // the reducer forgets the factory and its teams
    tx.append({"factory.removed", actor, name, name, {{"stopped", stopped}, {"kept_directory", f.path}}});
  });
  factories_.erase(name);
  config_cache_.erase(name);
}

Loaded<FactoryConfig> Factories::config(const std::string& name) const {
  auto file = paths_.factory_config(name);
  // One stat() tells whether the file is there and whether it changed (the patrol asks for
  // every factory's settings each round: three calls per lookup were 11 syscalls per factory).
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    Loaded<FactoryConfig> out;
    out.value.factory.name = name;
    out.value.factory.prefix = derive_prefix(name);
    if (auto f = find(name)) out.value.factory.prefix = f->prefix;
    return out;  // a factory without its file runs on the company's settings
  }
  const std::int64_t mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const auto size = static_cast<std::uintmax_t>(st.st_size);
  auto it = config_cache_.find(name);
  if (it != config_cache_.end() && it->second.mtime_ns == mtime_ns && it->second.size == size) return it->second.loaded;
  auto loaded = load_factory_config(file);
  config_cache_[name] = CachedConfig{mtime_ns, size, loaded};
  return loaded;
}

boost::asio::awaitable<TeamRecord> Factories::add_team(std::string factory, std::string name, std::string actor) {
  const FactoryRecord f = require(factory);
  if (!valid_factory_name(name))
    throw Error(Errc::invalid_argument, "name: use 1-32 of [a-z0-9_-], starting with a letter or digit",
                     json{{"field", "name"}});
  {
    sql::Stmt s(journal_.store().statements(), "SELECT 1 FROM teams WHERE factory = ? AND name = ?", "finding a team");
    s.bind(1, factory).bind(2, name);
    if (s.step())
      throw Error(Errc::conflict, "team '" + name + "' already exists in " + factory,
                       json{{"factory", factory}, {"team", name}});
  }
  const fs::path path = fs::path(f.path) / ".worktrees" / ("team-" + name);
  const std::string branch = "team/" + name;
  std::error_code ec;
  if (fs::exists(path, ec))
    throw Error(Errc::conflict, path.string() + " already exists", json{{"path", path.string()}});
  std::vector<std::string> probe = {"rev-parse", "--verify", "--quiet", "refs/heads/" + branch};
  auto has_branch = co_await git::run(std::move(probe), f.path);
  std::vector<std::string> args = {"worktree", "add"};
  if (!has_branch.ok()) {
    args.push_back("-b");
    args.push_back(branch);
    args.push_back(path.string());
  } else {
    args.push_back(path.string());
    args.push_back(branch);
  }
  auto r = co_await git::run(args, f.path);
  if (!r.ok())
    throw Error(Errc::conflict, "git worktree add failed: " + r.describe(),
                     json{{"factory", factory}, {"team", name}});
  // The factory may have been removed while git ran.
  if (!find(factory)) throw Error(Errc::not_found, "factory '" + factory + "' was removed");
  TeamRecord t{factory, name, path.string(), branch, now_rfc3339_ms()};
  journal_.commit([&](Store::Tx& tx) {  // the reducer adds the row
    const Event& e = tx.append(
        {"team.added", actor, factory, factory + "/" + name, {{"team", name}, {"path", t.path}, {"branch", t.branch}}});
    t.created_at = e.ts;
  });
  co_return t;
}

std::vector<TeamRecord> Factories::teams(const std::optional<std::string>& factory) const {
  std::vector<TeamRecord> out;
  sql::Stmt s(journal_.store().statements(),
              "SELECT factory, name, path, branch, created_at FROM teams WHERE ?1 IS NULL OR factory = ?1 "
              "ORDER BY factory, name",
              "listing teams");
  s.bind(1, factory);
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)});
  return out;
}

boost::asio::awaitable<std::string> Factories::ensure_slot_worktree(std::string factory, int slot, std::string* error) {
  const FactoryRecord* f = find(factory);
  if (!f) {
    if (error) *error = "no factory " + factory;
    co_return std::string();
  }
  const std::string repo = f->path;
  const fs::path path = fs::path(repo) / ".worktrees" / ("slot" + std::to_string(slot));
  std::error_code ec;
  if (fs::is_directory(path, ec)) co_return path.string();
  std::vector<std::string> args = {"worktree", "add", "--detach", path.string()};
  auto r = co_await git::run(std::move(args), repo);
  if (!r.ok()) {
    if (error) *error = "git worktree add " + path.string() + ": " + r.describe();
    co_return std::string();
  }
  co_return path.string();
}

}  // namespace vermas
