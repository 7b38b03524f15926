#include "daemon/patrol/loops.hpp"

#include <fstream>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "daemon/patrol/alerts.hpp"

namespace vermas {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The last this many events of a work order are enough: past the hourly limit long before.
constexpr int kLookback = 2000;
constexpr std::size_t kTimelineRows = 30;

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string LoopCounts::passed(const Config::Loops& limits) const {
  if (in_last_hour > limits.max_transitions_per_hour)
    return std::to_string(in_last_hour) + " transitions within an hour (max_transitions_per_hour = " +
           std::to_string(limits.max_transitions_per_hour) + ")";
  if (review_cycles > limits.max_review_cycles)
    return std::to_string(review_cycles) + " review -> in_progress round trips (max_review_cycles = " +
           std::to_string(limits.max_review_cycles) + ")";
  return "";
}

LoopCounts count_loops(const std::vector<json>& transitions, const std::string& now) {
  LoopCounts c;
  // RFC 3339 UTC times of one format compare as text.
  const auto t = parse_rfc3339(now);
  const std::string hour_ago = t ? format_rfc3339_ms(*t - std::chrono::hours(1)) : std::string();
  for (const json& e : transitions) {
    const std::string actor = text_of(e, "actor");
    if (actor == "operations") continue;  // the daemon's own moves do not count
    const json& data = e.contains("data") ? e["data"] : json::object();
    if (text_of(e, "ts") >= hour_ago) ++c.in_last_hour;
    if (text_of(data, "from") == "review" && text_of(data, "to") == "in_progress") ++c.review_cycles;
    c.actors[actor] = c.actors.value(actor, 0) + 1;
  }
  return c;
}

Loops::Loops(asio::io_context& io, const Config& config, const Paths& paths, Journal& journal, WorkOrders& work_orders)
    : io_(io), config_(config), paths_(paths), journal_(journal), work_orders_(work_orders) {}

Loops::~Loops() {
  if (subscription_) journal_.unsubscribe(subscription_);
}

void Loops::attach() {
  subscription_ = journal_.subscribe([this](const Event& e) {
    on_event(e);
    return true;
  });
}

void Loops::on_event(const Event& e) {
  if (e.event_type != "wo.transitioned" || !e.subject || e.actor == "operations") return;
  if (!pending_.insert(*e.subject).second) return;  // a check is on its way already
  // After the commit that told us, not inside it: the check may commit a transition itself.
  asio::post(io_, [this, id = *e.subject] {
    pending_.erase(id);
    try {
      check(id);
    } catch (const std::exception& ex) {
      spdlog::error("loop check of {}: {}", id, ex.what());
    }
  });
}

void Loops::check(const std::string& id) {
  auto w = work_orders_.find(id);
  if (!w || !w->status()) return;
  const wo::Status status = *w->status();
  if (status == wo::Status::blocked || wo::terminal(status)) return;

  // Its transitions since the last loop was detected (an operator's unblock comes after).
  EventFilter f;
  f.subject = id;
  f.type = "wo.";
  f.limit = kLookback;
  f.newest_first = true;
  std::vector<json> transitions;
  for (const Event& e : journal_.store().query(f)) {
    if (e.event_type == "wo.loop_detected") transitions.clear();
    else if (e.event_type == "wo.transitioned") transitions.push_back(to_json(e));
  }
  const LoopCounts counts = count_loops(transitions, now_rfc3339_ms());
  const std::string passed = counts.passed(config_.loops);
  if (passed.empty()) return;

  const std::string summary = write_summary(*w, counts, passed, transitions);
  const bool can_block = wo::transition_allowed(status, wo::Status::blocked);
  json data = {{"work_order", id},
               {"passed", passed},
               {"transitions_in_last_hour", counts.in_last_hour},
               {"review_cycles", counts.review_cycles},
               {"max_transitions_per_hour", config_.loops.max_transitions_per_hour},
               {"max_review_cycles", config_.loops.max_review_cycles},
               {"actors", counts.actors},
               {"summary", summary},
               {"blocked", can_block}};
  std::vector<EventDraft> extra;
  extra.push_back({"wo.loop_detected", "operations", w->factory, id, data});
  if (!summary.empty()) extra.push_back({"wo.artifact_added", "operations", w->factory, id, {{"path", summary}, {"kind", "loop_summary"}}});
  if (can_block) {
    work_orders_.transition({id, wo::Status::blocked, "loop", std::nullopt, std::nullopt, std::nullopt},
                            WoActor::operations(), std::move(extra));
  } else {
    // From where it stands the table has no move to blocked (open, needs_approval, failed):
    // detected, summarised and alerted all the same.
    journal_.commit([&](Store::Tx& tx) {
      for (auto& e : extra) tx.append(std::move(e));
    });
  }
  const std::string message = "work order " + id + " is looping: " + passed + (can_block ? "; blocked" : "") +
                              (summary.empty() ? "" : "; summary: " + summary);
  journal_.commit([&](Store::Tx& tx) {
    alerts::Draft d;
    d.severity = alerts::Severity::warning;
    d.type = "loop_detected";
    d.subject = id;  // the work order
    d.factory = w->factory;
    d.message = message;
    d.data = {{"work_order", id}, {"summary", summary}};
    alerts::raise(tx, d);
  });
  spdlog::warn("{}", message);
}

// The summary an operator reads before unblocking: the counts, who moved it, the timeline.
std::string Loops::write_summary(const wo::WorkOrder& w, const LoopCounts& counts, const std::string& passed,
                                 const std::vector<json>& transitions) const {
  const fs::path dir = paths_.work_dir() / "artifacts" / w.id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string stamp = now_rfc3339_ms();
  for (char& ch : stamp)
    if (ch == ':' || ch == '.') ch = '-';
  const fs::path file = dir / ("loop-" + stamp + ".md");
  std::ofstream out(file);
  out << "# Loop detected: " << w.id << "\n\n"
      << "**" << w.title << "** (" << w.status_text << ", factory " << w.factory.value_or("-") << ")\n\n"
      << "Why: " << passed << ".\n\n"
      << "| count | value | limit |\n|---|---|---|\n"
      << "| transitions in the last hour | " << counts.in_last_hour << " | "
      << config_.loops.max_transitions_per_hour << " |\n"
      << "| review -> in_progress round trips | " << counts.review_cycles << " | " << config_.loops.max_review_cycles
      << " |\n\n"
      << "## Who moved it\n\n";
  for (const auto& [actor, n] : counts.actors.items()) out << "- " << actor << ": " << n.get<int>() << "\n";
  out << "\n## Recent timeline (newest last)\n\n| time | from -> to | actor | reason |\n|---|---|---|---|\n";
  const std::size_t first = transitions.size() > kTimelineRows ? transitions.size() - kTimelineRows : 0;
  for (std::size_t i = first; i < transitions.size(); ++i) {
    const json& e = transitions[i];
    const json& d = e.contains("data") ? e["data"] : json::object();
    std::string reason = text_of(d, "reason");
    for (char& ch : reason)
      if (ch == '|' || ch == '\n') ch = ' ';
    out << "| " << text_of(e, "ts") << " | " << text_of(d, "from") << " -> " << text_of(d, "to") << " | "
        << text_of(e, "actor") << " | " << reason << " |\n";
  }
  out << "\nUnblock when the cause is fixed: `wo transition " << w.id
      << " --to in_progress --reason \"...\"` (a fresh count starts).\n";
  out.close();
  if (!out) {
    spdlog::error("writing the loop summary {}: failed", file.string());
    return "";
  }
  return file.string();
}

}  // namespace vermas
