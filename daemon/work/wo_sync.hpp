#pragma once
// wo sync: a factory's work orders as JSONL (work_orders.jsonl) on its [sync] branch of
// the factory clone, written with git plumbing on a private index, so no working tree and
// no index of the clone is touched. Records on the branch that are newer (updated_at)
// than ours, or unknown to us, are imported first as wo.imported events; malformed ones
// are counted and skipped. With [sync] auto_sync, changes trigger a sync once they pause
// for debounce_seconds.
#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/paths.hpp"
#include "daemon/factories.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/work/work_orders.hpp"

namespace vermas {

class WoSync {
 public:
  WoSync(boost::asio::io_context& io, Journal& journal, Factories& factories, WorkOrders& work_orders, Paths paths);
  ~WoSync();
  void attach();  // auto_sync: watch the journal for work-order changes
  // {factory, branch, exported, imported, rejected, commit, changed}
  boost::asio::awaitable<nlohmann::json> sync(std::string factory, std::string actor);
  void shutting_down();

 private:
  void on_event(const Event& e);
  void schedule(const std::string& factory, double delay_seconds);

  boost::asio::io_context& io_;
  Journal& journal_;
  Factories& factories_;
  WorkOrders& work_orders_;
  Paths paths_;
  std::uint64_t subscription_ = 0;
  std::set<std::string> running_;
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> timers_;
  bool stopping_ = false;
};

// A record read from a sync branch, checked field by field; "" when valid, else why not.
std::string check_synced_record(const nlohmann::json& record, const std::string& factory);

}  // namespace vermas
