#include "daemon/work/wo_sync.hpp"
#include "daemon/error.hpp"
#include "common/json.hpp"

#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "common/work_order.hpp"
#include "daemon/work/git.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFile = "work_orders.jsonl";
const char* kFields[] = {"id",      "title",    "description", "type",       "priority", "status",
                         "factory", "assignee", "created_at",  "updated_at", "artifacts"};

std::map<std::string, std::string> identity_env() {
  return {{"GIT_AUTHOR_NAME", "VerMAS Operations"},
          {"GIT_AUTHOR_EMAIL", "operations@vermas.invalid"},
          {"GIT_COMMITTER_NAME", "VerMAS Operations"},
          {"GIT_COMMITTER_EMAIL", "operations@vermas.invalid"}};
}

json synced_fields(const json& w) {
  json r = json::object();
  for (const char* f : kFields) r[f] = w.value(f, json());
  return r;
}

[[noreturn]] void git_failed(const std::string& what, const proc::CommandResult& r) {
  throw Error(Errc::conflict, "wo sync: git " + what + ": " + r.describe());
}

}  // namespace

std::string check_synced_record(const json& r, const std::string& factory) {
  if (!r.is_object()) return "not an object";
  auto text = [&](const char* key, std::size_t max, bool required) -> std::string {
    auto it = r.find(key);
    if (it == r.end() || it->is_null()) return required ? std::string(key) + " is missing" : "";
    if (!it->is_string()) return std::string(key) + " is not a string";
    if (it->get<std::string>().size() > max) return std::string(key) + " is too long";
    return "";
  };
  for (auto [key, max, required] : {std::tuple{"id", 64, true}, {"title", 500, true}, {"description", 65536, false},
                                    {"type", 16, true}, {"status", 32, true}, {"assignee", 128, false},
                                    {"created_at", 64, true}, {"updated_at", 64, true}, {"factory", 64, false}})
    if (auto why = text(key, static_cast<std::size_t>(max), required); !why.empty()) return why;
  if (!wo::valid_id(r["id"].get<std::string>())) return "id is not a work order id";
  if (r["title"].get<std::string>().empty()) return "title is empty";
  if (!wo::valid_type(r["type"].get<std::string>())) return "type is not bug, feature, task or chore";
  if (!wo::parse_status(r["status"].get<std::string>())) return "status is not a work order status";
  if (!r.contains("priority") || !r["priority"].is_number_integer() || r["priority"].get<std::int64_t>() < wo::kMinPriority ||
      r["priority"].get<std::int64_t>() > wo::kMaxPriority)
    return "priority is not an integer 0..4";
  if (!parse_rfc3339(r["created_at"].get<std::string>()) || !parse_rfc3339(r["updated_at"].get<std::string>()))
    return "created_at or updated_at is not an RFC 3339 time";
  if (r.contains("factory") && r["factory"].is_string() && r["factory"] != factory) return "factory is another one";
  if (r.contains("artifacts") && !r["artifacts"].is_array() && !r["artifacts"].is_null()) return "artifacts is not an array";
  return "";
}

WoSync::WoSync(asio::io_context& io, Journal& journal, Factories& factories, WorkOrders& work_orders, Paths paths)
    : io_(io), journal_(journal), factories_(factories), work_orders_(work_orders), paths_(std::move(paths)) {}

WoSync::~WoSync() {
  if (subscription_) journal_.unsubscribe(subscription_);
}

void WoSync::attach() {
  subscription_ = journal_.subscribe([this](const Event& e) {
    on_event(e);
    return true;
  });
}

void WoSync::shutting_down() {
  stopping_ = true;
  for (auto& [f, t] : timers_) t->cancel();
}

void WoSync::on_event(const Event& e) {
  // Changes made by people and agents; an import is the sync itself.
  static const std::set<std::string> kChanges = {"wo.created", "wo.updated", "wo.transitioned"};
  if (stopping_ || !e.factory || !kChanges.count(e.event_type)) return;
  auto fc = factories_.config(*e.factory);
  if (fc.value.sync.auto_sync) schedule(*e.factory, fc.value.sync.debounce_seconds);
}

void WoSync::schedule(const std::string& factory, double delay) {
  auto& timer = timers_[factory];
  if (!timer) timer = std::make_unique<asio::steady_timer>(io_);
  // Each change pushes the deadline back: a burst of changes is one sync.
  timer->expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, delay) * 1000)));
  timer->async_wait([this, factory, delay](boost::system::error_code ec) {
    if (ec || stopping_) return;
    if (running_.count(factory)) return schedule(factory, delay);  // after the running one
    asio::co_spawn(io_, sync(factory, "operations"), [factory](std::exception_ptr ep, const json&) {
      if (!ep) return;
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& ex) {
        spdlog::warn("auto sync of {}: {}", factory, ex.what());
      }
    });
  });
}

asio::awaitable<json> WoSync::sync(std::string factory, std::string actor) {
  const FactoryRecord f = factories_.require(factory);
  const std::string branch = factories_.config(factory).value.sync.branch;
  if (running_.count(factory)) throw Error(Errc::conflict, "a sync of " + factory + " is already running");
  running_.insert(factory);
  struct Done {
    std::set<std::string>& s;
    std::string f;
    ~Done() { s.erase(f); }
  } done{running_, factory};

  const std::string ref = "refs/heads/" + branch;
  const fs::path repo = f.path;
  auto head = co_await git::run(git::argv("symbolic-ref", "-q", "HEAD"), repo);
  if (head.ok() && git::first_line(head.output) == ref)
    throw Error(Errc::conflict, "wo sync: " + branch + " is checked out in " + f.path +
                                              "; the sync branch must not be a working branch");
  std::string tip;
  if (auto r = co_await git::run(git::argv("rev-parse", "--verify", "--quiet", ref), repo); r.ok()) tip = git::first_line(r.output);

  // Import what the branch knows better.
  std::int64_t imported = 0, rejected = 0;
  if (!tip.empty()) {
    auto blob = co_await git::run(git::argv("cat-file", "-e", tip + ":" + kFile), repo);
    if (blob.ok()) {
      auto content = co_await git::run(git::argv("cat-file", "blob", tip + ":" + kFile), repo);
      if (!content.ok()) git_failed("cat-file", content);
      std::vector<EventDraft> events;
      std::size_t start = 0;
      const std::string& text = content.output;
      while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        json r = json::parse(line, nullptr, false);
        if (r.is_discarded() || !check_synced_record(r, factory).empty()) {
          ++rejected;
          continue;
        }
        r["factory"] = factory;
        auto local = work_orders_.find(r["id"].get<std::string>());
        if (local && local->updated_at >= r["updated_at"].get<std::string>()) continue;
        if (local && local->factory != factory) {
          ++rejected;  // an id of another factory's work order
          continue;
        }
        const std::string id = r["id"];
        events.push_back({"wo.imported", actor, factory, id,
                          {{"record", synced_fields(r)}, {"branch", branch}, {"commit", tip}}});
      }
      if (!events.empty())
        journal_.commit([&](Store::Tx& tx) {
          for (auto& e : events) tx.append(std::move(e));
        });
      imported = static_cast<std::int64_t>(events.size());
    }
  }

  // Export ours (now including the imports), sorted by id so unchanged means identical.
  const std::vector<wo::WorkOrder> list = work_orders_.all_of(factory);
  std::string out;  // the sync branch's file is an edge: JSON lines
  for (const auto& w : list)
    out += synced_fields(wo::to_json(w)).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  const fs::path scratch = paths_.work_dir() / "tmp";
  std::error_code ec;
  fs::create_directories(scratch, ec);
  const fs::path file = scratch / ("sync-" + factory + ".jsonl");
  const fs::path index = scratch / ("sync-" + factory + ".index");
  {
    std::ofstream o(file, std::ios::trunc | std::ios::binary);
    o << out;
    if (!o) throw Error(Errc::unavailable, "wo sync: cannot write " + file.string());
  }
  fs::remove(index, ec);
  auto env = identity_env();
  env["GIT_INDEX_FILE"] = index.string();
  auto blob = co_await git::run(git::argv("hash-object", "-w", "--", file.string()), repo);
  if (!blob.ok()) git_failed("hash-object", blob);
  if (!tip.empty()) {
    // Start from the branch's tree, so files others put there are kept.
    auto r = co_await git::run(git::argv("read-tree", tip), repo, std::chrono::seconds(60), env);
    if (!r.ok()) git_failed("read-tree", r);
  }
  auto upd = co_await git::run(
      git::argv("update-index", "--add", "--cacheinfo", "100644," + git::first_line(blob.output) + "," + kFile), repo,
      std::chrono::seconds(60), env);
  if (!upd.ok()) git_failed("update-index", upd);
  auto tree = co_await git::run(git::argv("write-tree"), repo, std::chrono::seconds(60), env);
  fs::remove(index, ec);
  fs::remove(file, ec);
  if (!tree.ok()) git_failed("write-tree", tree);
  const std::string tree_id = git::first_line(tree.output);
  bool changed = true;
  std::string commit = tip;
  if (!tip.empty()) {
    auto old_tree = co_await git::run(git::argv("rev-parse", tip + "^{tree}"), repo);
    changed = !(old_tree.ok() && git::first_line(old_tree.output) == tree_id);
  }
  if (changed) {
    std::vector<std::string> args = git::argv("commit-tree", tree_id);
    if (!tip.empty()) args.push_back("-p"), args.push_back(tip);
    args.push_back("-m");
    args.push_back("wo sync: " + std::to_string(list.size()) + " work orders of " + factory);
    auto c = co_await git::run(std::move(args), repo, std::chrono::seconds(60), identity_env());
    if (!c.ok()) git_failed("commit-tree", c);
    commit = git::first_line(c.output);
    // The old value guards against a concurrent writer of the branch.
    auto u = co_await git::run(git::argv("update-ref", "-m", "wo sync", ref, commit, tip), repo);
    if (!u.ok()) git_failed("update-ref", u);
  }
  json result = {{"factory", factory},       {"branch", branch},     {"exported", list.size()},
                 {"imported", imported},     {"rejected", rejected}, {"commit", commit.empty() ? json(nullptr) : json(commit)},
                 {"changed", changed}};
  journal_.record({"sync.completed", actor, factory, std::nullopt, result});
  co_return result;
}

}  // namespace vermas
