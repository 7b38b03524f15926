#include "daemon/journal.hpp"

#include <spdlog/spdlog.h>

namespace vermas {

std::vector<Event> Journal::commit(const std::function<void(Store::Tx&)>& fn) {
  auto events = store_.transact(fn);
  publish(events);
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

void Journal::publish(const std::vector<Event>& events) {
  for (const auto& e : events) {
    // The feed is a best-effort mirror of the database; log a failure once, not per event.
    bool ok = feed_.append(to_json(e));
    if (!ok && !feed_failing_) spdlog::error("feed {}: {}", feed_.path().string(), feed_.last_error());
    if (ok && feed_failing_) spdlog::info("feed {} writable again", feed_.path().string());
    feed_failing_ = !ok;
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
