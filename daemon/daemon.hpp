#pragma once
// The daemon: owns the io_context (one thread), the configuration, the store and journal,
// the socket server and the signal handling. Everything else hangs off it.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/backup/backups.hpp"
#include "daemon/work/dispatcher.hpp"
#include "daemon/factories.hpp"
#include "daemon/io_loop.hpp"
#include "daemon/store/feed.hpp"
#include "daemon/store/checkpointer.hpp"
#include "daemon/store/group_commit.hpp"
#include "daemon/store/journal.hpp"
#include "daemon/store/log_maintenance.hpp"
#include "daemon/store/retention.hpp"
#include "daemon/service/systemd_notifier.hpp"
#include "daemon/governance/spending.hpp"
#include "daemon/governance/squad.hpp"
#include "daemon/patrol/loops.hpp"
#include "daemon/patrol/alert_notifier.hpp"
#include "daemon/patrol/mail_reminders.hpp"
#include "daemon/patrol/unread_mail.hpp"
#include "daemon/pidfile.hpp"
#include "daemon/reports/reports.hpp"
#include "daemon/rpc/router.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/store/store.hpp"
#include "daemon/agents/supervisor.hpp"
#include "daemon/work/wo_sync.hpp"
#include "daemon/work/work_orders.hpp"

namespace vermas {

struct DaemonOptions {
  Paths paths;
  std::filesystem::path config_file;
  std::optional<std::string> log_level;  // --log-level overrides the file
  bool log_to_stderr = true;
  int ready_fd = -1;  // written "R" and closed once the socket answers (detached start)
};

class Daemon {
 public:
  Daemon(DaemonOptions options, Config config);
  ~Daemon();

  // Starts everything, serves until stopped; returns the process exit code.
  int run();
  // The parts of run() before serving: lock, store, feed repair, methods, socket. Throws
  // std::runtime_error with an operator-readable message. Public for in-process harnesses
  // (the fuzzer drives the router without run()'s loop and signals).
  void start();

  // Graceful stop: stop accepting, answer what is owed, then leave run().
  void request_stop(const std::string& reason, bool stop_agents);

  struct ReloadOutcome {
    bool ok = false;
    std::vector<std::string> errors;
    std::vector<std::string> changed;           // dotted keys
    std::vector<std::string> restart_required;  // changed keys that apply only at start
  };
  ReloadOutcome reload_config(const std::string& actor, const std::string& trigger);

  nlohmann::json health();
  // The company overview, as rpc::raw_json text (each factory's agents with `members`).
  nlohmann::json status(AgentMembers members = kAllAgentMembers);

  boost::asio::io_context& io() { return io_; }
  const Config& config() const { return config_; }
  const Paths& paths() const { return options_.paths; }
  const std::filesystem::path& config_file() const { return options_.config_file; }
  Journal& journal() { return *journal_; }
  Store& store() { return *store_; }
  Server& server() { return *server_; }
  const Router& router() const { return router_; }
  Supervisor& supervisor() { return *supervisor_; }
  Factories& factories() { return *factories_; }
  WorkOrders& work_orders() { return *work_orders_; }
  Dispatcher& dispatcher() { return *dispatcher_; }
  Spending& spending() { return *spending_; }
  Squad& squad() { return *squad_; }
  WoSync& wo_sync() { return *wo_sync_; }
  LogMaintenance& log_maintenance() { return *log_maintenance_; }
  Backups& backups() { return *backups_; }
  Reports& reports() { return *reports_; }
  double uptime_seconds() const;
  bool stopping() const { return stopping_; }
  // Re-adoption, the first patrol, slot reconciliation, then dispatch opens: run() spawns
  // it once the socket answers (and so does the fuzz harness, which drives the loop itself).
  boost::asio::awaitable<void> start_agents();

 private:
  void watch_signals();
  std::string service_status();
  void finish_stop();
  // Pending handlers and suspended coroutines first, then the components, users before
  // what they use. Run by run() after the loop and by the destructor (harnesses that
  // never run()); a second call finds nothing left.
  void tear_down();
  std::optional<std::string> identify_caller(Connection& conn);

  DaemonOptions options_;
  Config config_;
  IoLoop io_;
  boost::asio::signal_set signals_{io_};
  SystemdNotifier systemd_{io_};
  boost::asio::steady_timer stop_deadline_{io_};
  std::optional<PidFile> pid_file_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<GroupCommit> group_commit_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<FeedWriter> feed_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Factories> factories_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<WorkOrders> work_orders_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<WoSync> wo_sync_;
  std::unique_ptr<Loops> loops_;
  std::unique_ptr<Spending> spending_;
  std::unique_ptr<Squad> squad_;
  std::unique_ptr<LogMaintenance> log_maintenance_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<Backups> backups_;
  std::unique_ptr<AlertNotifier> alert_notifier_;
  std::unique_ptr<MailReminders> mail_reminders_;
  std::unique_ptr<mail::UnreadCounts> unread_mail_;
  std::unique_ptr<Reports> reports_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::chrono::steady_clock::time_point started_at_;
  bool stopping_ = false;
  bool logging_ready_ = false;
  std::string stop_reason_;
};

// One row of a registration file's method table: the spec's columns (name, params, access,
// summary), then the handler, a plain function given the daemon, sync or async.
struct DaemonHandler {
  using Sync = nlohmann::json (*)(Daemon&, Call&);
  using Async = boost::asio::awaitable<nlohmann::json> (*)(Daemon&, Call&);
  DaemonHandler(Sync f) : sync(f) {}  // implicit: a row names just the function
  DaemonHandler(Async f) : async(f) {}
  Sync sync = nullptr;
  Async async = nullptr;
};
struct DaemonMethod {
  MethodSpec spec;
  DaemonHandler handler;
};
void add_methods(Router& router, Daemon& daemon, std::span<const DaemonMethod> table);
// agent.list's and status's `fields`: the agent members to write (all when absent); an
// unknown name is -32602 naming it.
AgentMembers agent_fields(const Call& call);

// The three tables: methods.cpp has ping, health, status, shutdown, config.*, events.*
// (but archive) and rpc.methods
void register_core_methods(Router& router, Daemon& daemon);
// factory.*, team.*, agent.*, worker.*, alert.*
void register_supervision_methods(Router& router, Daemon& daemon);
// wo.*, dispatch, report.eval, events.archive
void register_work_order_methods(Router& router, Daemon& daemon);
// mail.*
void register_mail_methods(Router& router, Daemon& daemon);
void register_governance_methods(Router& router, Daemon& daemon);
// db.backup, db.verify
void register_db_methods(Router& router, Daemon& daemon);
// report.standup, report.metrics
void register_report_methods(Router& router, Daemon& daemon);

}  // namespace vermas
