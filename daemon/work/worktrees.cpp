#include "daemon/work/worktrees.hpp"
#include "common/json.hpp"

#include <unistd.h>

#include <atomic>

#include "daemon/work/git.hpp"

namespace vermas::worktrees {

namespace fs = std::filesystem;

namespace {

// commit-tree needs an identity; a factory clone may have none configured.
std::map<std::string, std::string> identity_env() {
  return {{"GIT_AUTHOR_NAME", "VerMAS Operations"},
          {"GIT_AUTHOR_EMAIL", "operations@vermas.invalid"},
          {"GIT_COMMITTER_NAME", "VerMAS Operations"},
          {"GIT_COMMITTER_EMAIL", "operations@vermas.invalid"}};
}

}  // namespace

json Saved::to_json() const {
  json j = {{"saved", saved}, {"dirty", dirty}, {"unpushed", unpushed}};
  if (saved) j["ref"] = ref, j["commit"] = commit;
  if (!error.empty()) j["error"] = error;
  return j;
}

boost::asio::awaitable<std::string> add(fs::path repo, fs::path path, std::string branch) {
  auto exists = co_await git::run(git::argv("rev-parse", "--verify", "--quiet", "refs/heads/" + branch), repo);
  // Named vectors, not braced lists: GCC 12 miscompiles string-literal lists in coroutines.
  std::vector<std::string> args;
  if (exists.ok()) args = std::vector<std::string>{"worktree", "add", path.string(), branch};
  else args = std::vector<std::string>{"worktree", "add", "-b", branch, path.string(), "HEAD"};
  auto r = co_await git::run(std::move(args), repo);
  co_return r.ok() ? std::string() : "git worktree add " + path.string() + ": " + r.describe();
}

boost::asio::awaitable<std::string> switch_to(fs::path repo, fs::path path, std::string branch) {
  auto exists = co_await git::run(git::argv("rev-parse", "--verify", "--quiet", "refs/heads/" + branch), repo);
  std::vector<std::string> args;
  if (exists.ok()) {
    args = std::vector<std::string>{"checkout", "--force", branch};
  } else {
    auto head = co_await git::run(git::argv("rev-parse", "--verify", "HEAD"), repo);
    if (!head.ok()) co_return "git rev-parse HEAD in " + repo.string() + ": " + head.describe();
    args = std::vector<std::string>{"checkout", "--force", "-b", branch, git::first_line(head.output)};
  }
  auto r = co_await git::run(std::move(args), path);
  if (!r.ok()) co_return "git checkout " + branch + " in " + path.string() + ": " + r.describe();
  auto clean = co_await git::run(git::argv("clean", "-fd"), path);
  co_return clean.ok() ? std::string() : "git clean in " + path.string() + ": " + clean.describe();
}

boost::asio::awaitable<std::string> remove(fs::path repo, fs::path path) {
  std::string error;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto r = co_await git::run(git::argv("worktree", "remove", "--force", path.string()), repo);
    if (!r.ok()) {
      // Not a registered worktree (a leftover directory): it was saved, so it may go.
      fs::remove_all(path, ec);
      if (ec) error = "removing " + path.string() + ": " + ec.message() + " (git: " + r.describe() + ")";
    }
  }
  auto pruned = co_await git::run(git::argv("worktree", "prune"), repo);
  (void)pruned;
  co_return error;
}

boost::asio::awaitable<Saved> save(fs::path repo, fs::path wt, std::string factory, int slot, std::string reason,
                                   fs::path scratch, std::optional<std::string> previous) {
  Saved out;
  std::error_code ec;
  if (!fs::exists(wt / ".git", ec)) co_return out;  // no worktree, nothing to lose
  auto head = co_await git::run(git::argv("rev-parse", "--verify", "HEAD"), wt);
  if (!head.ok()) {
    out.error = "git rev-parse HEAD in " + wt.string() + ": " + head.describe();
    co_return out;
  }
  const std::string head_id = git::first_line(head.output);
  auto status = co_await git::run(git::argv("status", "--porcelain", "--untracked-files=all"), wt);
  if (!status.ok()) {
    out.error = "git status in " + wt.string() + ": " + status.describe();
    co_return out;
  }
  out.dirty = !status.output.empty();
  std::string commit = head_id;
  if (out.dirty) {
    // A private index: the worktree's own index (what the agent staged) stays untouched.
    static std::atomic<unsigned> serial{0};
    fs::create_directories(scratch, ec);
    const fs::path index = scratch / ("wip-index-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
    auto env = identity_env();
    env["GIT_INDEX_FILE"] = index.string();
    auto steps_ok = [&](const proc::CommandResult& r, const char* what) {
      if (r.ok()) return true;
      out.error = std::string("git ") + what + " in " + wt.string() + ": " + r.describe();
      return false;
    };
    auto r = co_await git::run(git::argv("read-tree", "HEAD"), wt, std::chrono::seconds(60), env);
    if (steps_ok(r, "read-tree")) r = co_await git::run(git::argv("add", "-A"), wt, std::chrono::seconds(120), env);
    std::string tree;
    if (out.error.empty() && steps_ok(r, "add -A")) {
      r = co_await git::run(git::argv("write-tree"), wt, std::chrono::seconds(60), env);
      if (steps_ok(r, "write-tree")) tree = git::first_line(r.output);
    }
    fs::remove(index, ec);
    if (!out.error.empty()) co_return out;
    if (previous) {
      auto prev_tree = co_await git::run(git::argv("rev-parse", "--verify", *previous + "^{tree}"), wt);
      if (prev_tree.ok() && git::first_line(prev_tree.output) == tree) co_return out;  // unchanged since
    }
    r = co_await git::run(git::argv("commit-tree", tree, "-p", head_id, "-m",
                           "wip: " + factory + " slot" + std::to_string(slot) + " (" + reason + ")"),
                          wt, std::chrono::seconds(60), identity_env());
    if (!steps_ok(r, "commit-tree")) co_return out;
    commit = git::first_line(r.output);
  }
  auto count = co_await git::run(git::argv("rev-list", "--count", commit, "--not", "--remotes"), wt);
  out.unpushed = count.ok() ? std::atol(git::first_line(count.output).c_str()) : 0;
  if (!out.dirty && out.unpushed == 0) co_return out;  // everything is on a remote already
  if (previous && *previous == commit) co_return out;   // saved just before, unchanged since
  const std::string base = "refs/vermas/wip/" + factory + "/slot" + std::to_string(slot) + "/";
  auto refs = co_await git::run(git::argv("for-each-ref", "--format=%(refname)", base), repo);
  long n = 0;
  if (refs.ok())
    for (char c : refs.output) n += c == '\n';
  out.ref = base + std::to_string(n);
  auto upd = co_await git::run(git::argv("update-ref", out.ref, commit, ""), repo);  // "" : must not exist yet
  if (!upd.ok()) {
    out.error = "git update-ref " + out.ref + ": " + upd.describe();
    co_return out;
  }
  out.saved = true;
  out.commit = commit;
  co_return out;
}

}  // namespace vermas::worktrees
