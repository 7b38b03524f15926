#pragma once
// The journal is the one way state changes: commit events (and the projection updates
// made from them) in one SQLite transaction, then mirror each committed event to
// feed.jsonl and to live subscribers. Nothing is published before its COMMIT, nor, under
// group commit, before the sync that makes it durable (the feed never gets ahead of the
// database, even in a power cut).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "daemon/store/feed.hpp"
#include "daemon/store/store.hpp"

namespace vermas {

class GroupCommit;

class Journal {
 public:
  Journal(Store& store, FeedWriter& feed) : store_(store), feed_(feed) {}

  // Returns the events at once; they are published once durable.
  std::vector<Event> commit(const std::function<void(Store::Tx&)>& fn, Store::Share share = Store::Share::batch);
  Event record(EventDraft draft);

  // At start, before serving: the database is the truth, so the feed gets every event it
  // lacks (committed, then a crash before its line was written), in id order. Returns how
  // many were appended.
  std::int64_t repair_feed();

  // A subscriber returns false to be removed (e.g. its connection is gone).
  using Subscriber = std::function<bool(const Event&)>;
  std::uint64_t subscribe(Subscriber fn);
  void unsubscribe(std::uint64_t token);
  std::size_t subscriber_count() const { return subscribers_.size(); }

  // The store is opened `grouped`: publish after this group commit's sync.
  void set_group_commit(GroupCommit* group_commit);

  Store& store() { return store_; }
  FeedWriter& feed() { return feed_; }

 private:
  void publish(const std::vector<Event>& events);
  void mirror(const Event& e);
  bool fill_feed(std::int64_t after_id, std::int64_t up_to, std::int64_t* appended = nullptr);
  // Writes the gathered lines; false (and the feed marked failed) if it could not.
  bool flush_feed();
  void feed_failed(std::int64_t id);

  Store& store_;
  FeedWriter& feed_;
  GroupCommit* group_commit_ = nullptr;
  std::uint64_t next_token_ = 1;
  std::map<std::uint64_t, Subscriber> subscribers_;
  // The first event the feed lacks after a failed append (disk full): later events wait
  // behind it, so the feed stays every event in id order, with no holes.
  std::optional<std::int64_t> feed_missing_from_;
  std::vector<std::int64_t> gathered_;  // ids of the lines gathered in the feed, in order
};

}  // namespace vermas
