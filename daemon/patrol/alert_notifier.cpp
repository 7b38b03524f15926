#include "daemon/patrol/alert_notifier.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/alert_severity.hpp"
#include "common/json.hpp"
#include "common/time.hpp"
#include "daemon/agents/process.hpp"
#include "daemon/patrol/alerts.hpp"

namespace vermas {

namespace asio = boost::asio;

namespace {

// An alert.raised event worth a command under this configuration.
bool notify_wanted(const Config& config, const Event& e) {
  if (config.alerts.command.empty()) return false;
  const auto min = alerts::parse_severity(config.alerts.min_severity).value_or(alerts::Severity::warning);
  // A severity nobody knows is told rather than kept quiet.
  const auto severity = alerts::parse_severity(e.data.value("severity", "")).value_or(alerts::Severity::critical);
  return alerts::at_least(severity, min);
}

}  // namespace

AlertNotifier::AlertNotifier(asio::io_context& io, const Config& config, Journal& journal, Paths paths)
    : io_(io), config_(config), journal_(journal), paths_(std::move(paths)) {}

AlertNotifier::~AlertNotifier() {
  if (subscription_) journal_.unsubscribe(subscription_);
}

void AlertNotifier::attach() {
  subscription_ = journal_.subscribe([this](const Event& e) {
    if (e.event_type == "alert.raised") on_event(e);
    return true;
  });
}

void AlertNotifier::shutting_down() {
  stopping_ = true;
  if (!queue_.empty()) spdlog::warn("daemon stopping: {} alert command(s) not run", queue_.size());
  queue_.clear();
}

void AlertNotifier::on_event(const Event& e) {
  if (stopping_ || !notify_wanted(config_, e)) return;
  const std::int64_t id = e.data.value("alert_id", std::int64_t{0});
  if (id <= 0) return;
  if (queue_.size() >= kMaxQueued) {
    spdlog::error("alert {}: {} alert commands already waiting; not running another", id, queue_.size());
    return;
  }
  queue_.push_back(id);
  // Never from inside the journal's publishing (a failure is itself a commit): next turn.
  if (!pump_posted_) {
    pump_posted_ = true;
    asio::post(io_, [this] {
      pump_posted_ = false;
      pump();
    });
  }
}

void AlertNotifier::pump() {
  while (!stopping_ && running_ < kMaxRunning && !queue_.empty()) {
    const std::int64_t id = queue_.front();
    queue_.pop_front();
    ++running_;
    asio::co_spawn(io_, notify(id), [this, id](std::exception_ptr ep) {
      --running_;
      if (ep) {
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& ex) {
          spdlog::error("alert {}: running [alerts] command: {}", id, ex.what());
        }
      }
      pump();
    });
  }
}

asio::awaitable<void> AlertNotifier::notify(std::int64_t alert_id) {
  const std::vector<std::string> command = config_.alerts.command;
  if (command.empty()) co_return;  // removed by a reload meanwhile
  json alert;
  try {
    alert = alerts::get(journal_.store(), alert_id);
  } catch (const std::exception& e) {
    record_failure(alert_id, std::string("reading the alert: ") + e.what(), command);
    co_return;
  }
  proc::SpawnSpec spec;
  spec.argv = command;
  spec.cwd = paths_.root;
  spec.env_add["COMPANY_ROOT"] = paths_.root.string();
  spec.env_add["VERMAS_ALERT_ID"] = std::to_string(alert_id);
  const double timeout_seconds = config_.alerts.command_timeout_seconds;
  std::string input = alert.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  // At the timeout: SIGKILL at once, no grace (a notifier has nothing to save).
  auto result = co_await proc::run_command(std::move(spec), to_ms(timeout_seconds), 64 * 1024, std::move(input),
                                           std::chrono::milliseconds(0));
  if (result.ok()) {
    spdlog::info("alert {}: [alerts] command ran", alert_id);
    co_return;
  }
  record_failure(alert_id,
                 result.timed_out
                     ? fmt::format("timed out after {} s (command_timeout_seconds); its process group was killed",
                                   timeout_seconds)
                     : result.describe(400),
                 command);
}

void AlertNotifier::record_failure(std::int64_t alert_id, const std::string& error,
                                   const std::vector<std::string>& command) {
  spdlog::warn("alert {}: [alerts] command {} failed: {}", alert_id, command.empty() ? "" : command.front(), error);
  try {
    std::optional<std::string> factory, subject;
    std::string type;
    try {
      json a = alerts::get(journal_.store(), alert_id);
      if (a["factory"].is_string()) factory = a["factory"].get<std::string>();
      if (a["subject"].is_string()) subject = a["subject"].get<std::string>();
      type = a.value("type", "");
    } catch (const std::exception&) {
    }
    journal_.record({"alert.notify_failed", "operations", factory, subject,
                     {{"alert_id", alert_id}, {"type", type}, {"error", error}, {"command", command}}});
  } catch (const std::exception& e) {
    spdlog::error("alert {}: recording alert.notify_failed: {}", alert_id, e.what());
  }
}

}  // namespace vermas
