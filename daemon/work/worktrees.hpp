#pragma once
// Git worktrees of worker slots: made for a work order's branch, saved before anything
// destructive, removed when the slot is freed. Every step is an awaited git subprocess
// (argv, never a shell); nothing here blocks the io thread.
#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

namespace vermas::worktrees {

// A worktree at `path` on `branch` (created from HEAD unless it exists: a re-dispatched
// work order continues its own branch). A leftover directory at `path` must have been
// saved and removed by the caller. Returns "" or git's reason.
boost::asio::awaitable<std::string> add(std::filesystem::path repo, std::filesystem::path path, std::string branch);

// An existing slot worktree (a worker spawned without work, saved first by the caller) put
// on `branch`: checked out as it is if it exists, else made from the repository's HEAD;
// leftovers (tracked changes, untracked files: in the save) are cleared. "" or git's reason.
boost::asio::awaitable<std::string> switch_to(std::filesystem::path repo, std::filesystem::path path,
                                              std::string branch);

// `git worktree remove --force` (the caller saved it first), then `git worktree prune`.
boost::asio::awaitable<std::string> remove(std::filesystem::path repo, std::filesystem::path path);

struct Saved {
  bool saved = false;
  std::string ref;          // refs/vermas/wip/<factory>/slot<N>/<n>
  std::string commit;
  bool dirty = false;       // uncommitted changes were committed into it
  long unpushed = 0;        // commits not on any remote ref
  std::string error;        // git failed: the caller must not destroy the worktree
  nlohmann::json to_json() const;
};

// Saves uncommitted changes (tracked and untracked, .gitignore honoured) and unpushed
// commits of the worktree to the next refs/vermas/wip/<factory>/slot<N>/<n>, using a
// private index so neither the worktree nor its index changes. Nothing to save: saved is
// false. `previous`: a commit saved earlier; the same content again is not saved twice.
boost::asio::awaitable<Saved> save(std::filesystem::path repo, std::filesystem::path worktree, std::string factory,
                                   int slot, std::string reason, std::filesystem::path scratch_dir,
                                   std::optional<std::string> previous = std::nullopt);

}  // namespace vermas::worktrees
