#pragma once
// Loop detection (spec §4 "Loops", the runbook's "Loop Detected"): a work order moved more
// than [loops] max_transitions_per_hour times in a sliding hour, or sent back from review to
// in_progress more than max_review_cycles times, is going round in circles. The daemon
// moves it to blocked through the table (actor `operations`, reason `loop`), raises a
// `loop_detected` alert and attaches a loop summary: a Markdown file under
// R/.work/artifacts/<wo-id>/ with the counts, who moved it and the recent timeline, listed
// in the work order's artifacts and named in the event.
//
// The counts come from the log (wo.transitioned of that work order since its last
// wo.loop_detected), so they survive restarts and need no state here. The daemon's own
// moves do not count; an operator's unblock comes after the last wo.loop_detected and so
// starts a fresh count. A journal subscriber: it hears of each transition after its commit
// and checks at the next turn of the loop.
#include <cstdint>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/work/work_orders.hpp"

namespace vermas {

// What the log says about a work order's recent moves (pure: tests/unit/test_loops.cpp).
struct LoopCounts {
  int in_last_hour = 0;   // transitions by others than the daemon within the hour before `now`
  int review_cycles = 0;  // review -> in_progress, by others than the daemon
  nlohmann::json actors = nlohmann::json::object();  // who moved it, how often
  // "" when within limits, else which limit was passed (for the reason and the alert).
  std::string passed(const Config::Loops& limits) const;
};
// `transitions`: wo.transitioned events (ts, actor, data.from, data.to), oldest first.
LoopCounts count_loops(const std::vector<nlohmann::json>& transitions, const std::string& now_rfc3339);

class Loops {
 public:
  Loops(boost::asio::io_context& io, const Config& config, const Paths& paths, Journal& journal,
        WorkOrders& work_orders);
  ~Loops();
  Loops(const Loops&) = delete;
  Loops& operator=(const Loops&) = delete;

  void attach();

 private:
  void on_event(const Event& e);
  void check(const std::string& id);
  std::string write_summary(const wo::WorkOrder& w, const LoopCounts& counts, const std::string& passed,
                            const std::vector<nlohmann::json>& transitions) const;

  boost::asio::io_context& io_;
  const Config& config_;
  Paths paths_;
  Journal& journal_;
  WorkOrders& work_orders_;
  std::uint64_t subscription_ = 0;
  std::set<std::string> pending_;  // checks posted, not yet run
};

}  // namespace vermas
