#include "daemon/store/journal.hpp"
#include "daemon/error.hpp"
#include "daemon/store/group_commit.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace vermas {

std::vector<Event> Journal::commit(const std::function<void(Store::Tx&)>& fn, Store::Share share) {
  auto events = store_.transact(fn, share);
  // The callbacks run in order, so the feed and subscribers still see events in id order.
  // A failed sync publishes too: the database holds the events, and the feed mirrors it. A
  // shared transaction rolled back does not: its events are gone.
  // Under group commit the feed lines of one sync are gathered and written together when its
  // waiters have run (set_group_commit), before any answer: those resume afterwards.
  if (group_commit_ && group_commit_->pending()) {
    group_commit_->after_settled([this, events](GroupCommit::Outcome o) {
      if (o != GroupCommit::Outcome::rolled_back) publish(events);
    });
  } else {
    publish(events);
    flush_feed();
  }
  return events;
}

Event Journal::record(EventDraft draft) {
  auto events = commit([&](Store::Tx& tx) { tx.append(std::move(draft)); });
  return events.front();
}

std::uint64_t Journal::subscribe(Subscriber fn) {
  auto token = next_token_++;
  subscribers_.emplace(token, std::move(fn));
  return token;
}

void Journal::unsubscribe(std::uint64_t token) { subscribers_.erase(token); }

void Journal::feed_failed(std::int64_t id) {
  if (!feed_missing_from_)
    spdlog::error("{} (the events are kept in the database and appended when the feed works again)",
                  feed_.last_error());
  feed_missing_from_ = id;  // everything before it is in the feed
}

// Appends the stored events after_id < id <= up_to, in chunks so memory stays flat.
bool Journal::fill_feed(std::int64_t after_id, std::int64_t up_to, std::int64_t* appended) {
  constexpr std::int64_t kChunk = 1000;
  try {
    while (after_id < up_to) {
      std::optional<std::int64_t> failed_at;
      std::int64_t n = store_.scan(after_id, up_to, kChunk, {}, [&](const Event& e) {
        if (failed_at) return;
        if (!feed_.append(to_json(e))) {
          failed_at = e.id;
          return;
        }
        after_id = e.id;
        if (appended) ++*appended;
      });
      if (failed_at) {
        feed_failed(*failed_at);
        return false;
      }
      if (n < kChunk) break;  // the range is exhausted
    }
  } catch (const Error& e) {
    spdlog::error("feed {}: reading the events it lacks: {}", feed_.path().string(), e.what());
    feed_failed(after_id + 1);
    return false;
  }
  return true;
}

void Journal::set_group_commit(GroupCommit* group_commit) {
  if (group_commit_) group_commit_->on_round_end(nullptr);
  group_commit_ = group_commit;
  if (group_commit_) group_commit_->on_round_end([this] { flush_feed(); });
}

void Journal::mirror(const Event& e) {
  if (feed_missing_from_) {
    // Nothing is gathered now: a failed flush dropped what was (the database has it).
    if (!fill_feed(*feed_missing_from_ - 1, e.id - 1)) return;
    spdlog::info("feed {} writable again; the events it lacked from id {} were appended", feed_.path().string(),
                 *feed_missing_from_);
    feed_missing_from_.reset();
  }
  if (feed_.add(to_json(e))) {
    gathered_.push_back(e.id);
  } else if (flush_feed()) {  // what came before it goes in; the feed resumes at it
    feed_failed(e.id);
  }
}

bool Journal::flush_feed() {
  if (gathered_.empty()) return true;
  std::size_t written = 0;
  const bool ok = feed_.flush(&written);
  if (!ok) feed_failed(gathered_[std::min(written, gathered_.size() - 1)]);
  gathered_.clear();
  return ok;
}

std::int64_t Journal::repair_feed() {
  const std::int64_t last = store_.last_event_id();
  const std::int64_t from = feed_.recover().value_or(0);
  if (from >= last) return 0;
  feed_missing_from_.reset();
  const auto before = std::chrono::steady_clock::now();
  std::int64_t appended = 0;
  bool ok = fill_feed(from, last, &appended);
  spdlog::log(ok ? spdlog::level::info : spdlog::level::err,
              "feed {}: appended {} event(s) it lacked after id {} ({:.0f} ms){}", feed_.path().string(), appended, from,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - before).count(),
              ok ? "" : "; the rest follows when the feed is writable");
  return appended;
}

void Journal::publish(const std::vector<Event>& events) {
  for (const auto& e : events) {
    mirror(e);
    // A callback may unsubscribe itself while it runs (dropping a slow subscriber closes
    // its connection, whose cleanup calls unsubscribe): call a copy, erase by token, and
    // find the next entry by token, never through an iterator the callback may have freed.
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
      const std::uint64_t token = it->first;
      Subscriber fn = it->second;
      if (!fn(e)) subscribers_.erase(token);
      it = subscribers_.upper_bound(token);
    }
  }
}

}  // namespace vermas
