#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "common/json_text.hpp"
#include "common/jsonrpc.hpp"
#include "common/time.hpp"
#include "daemon/patrol/alerts.hpp"
#include "daemon/patrol/mail.hpp"
#include "daemon/rpc/connection.hpp"
#include "daemon/logging.hpp"
#include "daemon/agents/process.hpp"
#include "version.hpp"

namespace vermas {

namespace {

constexpr auto kStopGrace = std::chrono::seconds(3);

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = j;
  }
}

std::uint64_t mb_to_bytes(double mb) { return static_cast<std::uint64_t>(mb * 1024 * 1024); }

// What an older version left readable under .work/ (0644 database and feed) is narrowed to
// the mask new files get.
void narrow_modes(const std::filesystem::path& dir, mode_t mask) {
  std::error_code ec;
  ::chmod(dir.c_str(), 0777 & ~mask);
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ::chmod(it->path().c_str(), (st.st_mode & 07777) & ~mask);
  }
}

}  // namespace

Daemon::Daemon(DaemonOptions options, Config config)
    : options_(std::move(options)), config_(std::move(config)) {}

Daemon::~Daemon() { tear_down(); }

double Daemon::uptime_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
}

// The service's STATUS= line (systemctl status): agents, failures, alerts, squad.
std::string Daemon::service_status() {
  const auto counts = supervisor_->counts();
  const auto& by = counts["by_status"];
  const int running = by.value("running", 0) + by.value("idle", 0) + by.value("stuck", 0);
  return service_status_line(running, counts.value("total", 0), supervisor_->failed_count(),
                             alerts::open_count(*store_), squad_->paused());
}

void Daemon::start() {
  const Paths& p = options_.paths;
  // Everything the daemon writes (database, feed, pid file, assignments, logs) is private:
  // 0600, or 0640 when a socket group may use it. Agents and git get the starting umask.
  const mode_t private_mask = config_.operations.socket_group ? 027 : 077;
  proc::set_child_umask(::umask(private_mask));
  std::error_code ec;
  std::filesystem::create_directories(p.work_dir(), ec);
  std::filesystem::create_directories(p.logs_dir(), ec);
  if (!std::filesystem::is_directory(p.work_dir()))
    throw std::runtime_error("cannot create " + p.work_dir().string() + ": " + ec.message());
  narrow_modes(p.work_dir(), private_mask);

  std::string lock_error;
  auto lock = PidFile::acquire(p.pid_file(), lock_error);
  if (!lock) throw std::runtime_error(lock_error);
  pid_file_.emplace(std::move(*lock));

  setup_logging(p.log_file(), options_.log_level.value_or(config_.operations.log_level),
                config_.operations.log_max_mb, config_.operations.log_keep, options_.log_to_stderr);
  logging_ready_ = true;

  // Group commit: requests that come together share one transaction, commits only write
  // the WAL; one sync on a thread of its own covers all that came together, and answers and
  // the feed wait for it.
  store_ = std::make_unique<Store>(p.db_file(), Store::Durability::grouped);
  group_commit_ = std::make_unique<GroupCommit>(
      io_, [wal = std::make_shared<WalSync>(p.db_file())] { return (*wal)(); });
  store_->on_commit([gc = group_commit_.get()] { gc->committed(); });
  share_transactions(*store_, *group_commit_);
  // The WAL is checkpointed on a thread of its own, not inside a request's COMMIT.
  checkpointer_ = std::make_unique<Checkpointer>(p.db_file());
  store_->on_wal([c = checkpointer_.get()](sqlite3* db, int pages) { c->wal_pages(db, pages); });
  router_.set_group_commit(group_commit_.get());
  feed_ = std::make_unique<FeedWriter>(p.feed_file(), mb_to_bytes(config_.events.feed_max_mb),
                                       config_.events.feed_keep);
  journal_ = std::make_unique<Journal>(*store_, *feed_);
  journal_->set_group_commit(group_commit_.get());
  journal_->repair_feed();  // before anything new is recorded or anyone is served

  // Before anything can raise an alert: every new one after this is told to [alerts] command.
  alert_notifier_ = std::make_unique<AlertNotifier>(io_, config_, *journal_, p);
  alert_notifier_->attach();
  factories_ = std::make_unique<Factories>(*journal_, p);
  factories_->load();
  const auto socket = socket_path_for(p, config_.operations.socket);
  supervisor_ = std::make_unique<Supervisor>(io_, config_, p, *journal_, *factories_, socket.string());
  work_orders_ = std::make_unique<WorkOrders>(*journal_, *factories_);
  spending_ = std::make_unique<Spending>(*journal_, config_, *supervisor_, *work_orders_);
  spending_->load();
  squad_ = std::make_unique<Squad>(*journal_, *supervisor_);
  squad_->load();
  supervisor_->money({[this](const std::string& agent) { return spending_->costs().today_agent(agent); },
                      [this](const AgentRecord& agent) {
                        return spending_->budgets().cap(caps::Scope::agent, agent.id);
                      },
                      [this](const AgentRecord& agent) {
                        const auto held = spending_->holding(agent.id, agent.factory);
                        return held ? Spending::to_json(*held) : nlohmann::json(nullptr);
                      }});
  // Posted: the start's own handler finishes first; the freeze follows within the loop turn.
  supervisor_->on_started([this](const std::string& agent) {
    boost::asio::post(io_, [this, agent] { spending_->started(agent); });
  });
  dispatcher_ = std::make_unique<Dispatcher>(io_, config_, p, *journal_, *factories_, *supervisor_, *work_orders_);
  dispatcher_->attach();
  supervisor_->on_remedy([this](const Remedy& r) { dispatcher_->remedy(r); });
  spending_->on_stop([this](const std::string& agent, const std::string& reason) { dispatcher_->retire(agent, reason); });
  wo_sync_ = std::make_unique<WoSync>(io_, *journal_, *factories_, *work_orders_, p);
  wo_sync_->attach();
  loops_ = std::make_unique<Loops>(io_, config_, p, *journal_, *work_orders_);
  loops_->attach();
  mail_reminders_ = std::make_unique<MailReminders>(io_, config_, *journal_, *supervisor_);
  mail_reminders_->attach();
  unread_mail_ = std::make_unique<mail::UnreadCounts>(*journal_);
  log_maintenance_ = std::make_unique<LogMaintenance>(io_, *journal_, p);
  retention_ = std::make_unique<Retention>(io_, config_, *log_maintenance_);
  backups_ = std::make_unique<Backups>(io_, *journal_, p);
  reports_ = std::make_unique<Reports>(io_, config_, p, *journal_,
                                       Reports::Sources{*factories_, *supervisor_, spending_->costs(),
                                                        [this] { return uptime_seconds(); }});

  register_core_methods(router_, *this);
  register_supervision_methods(router_, *this);
  register_work_order_methods(router_, *this);
  register_mail_methods(router_, *this);
  register_governance_methods(router_, *this);
  register_db_methods(router_, *this);
  register_report_methods(router_, *this);
  router_.set_identify([this](Connection& conn) { return identify_caller(conn); });
  server_ = std::make_unique<Server>(io_, router_);
  server_->set_request_timeout(to_ms(config_.operations.request_timeout_seconds));
  server_->listen(socket, config_.operations.socket_group);
  watch_signals();
}

void add_methods(Router& router, Daemon& daemon, std::span<const DaemonMethod> table) {
  for (const DaemonMethod& m : table) {
    if (auto sync = m.handler.sync) {
      router.add(m.spec, [&daemon, sync](Call& c) { return sync(daemon, c); });
    } else {
      auto async = m.handler.async;
      router.add_async(m.spec, [&daemon, async](Call& c) { return async(daemon, c); });
    }
  }
}

std::optional<std::string> Daemon::identify_caller(Connection& conn) {
  if (!conn.caller()) conn.set_caller(supervisor_->agent_for_pid(conn.peer().pid));
  const auto& agent = *conn.caller();
  if (agent) {
    // Any RPC by an agent is activity. Recording it (an idle agent running again) must not
    // cost the request: a failed write is logged, and the request goes on.
    try {
      supervisor_->note_activity(*agent);
    } catch (const std::exception& e) {
      spdlog::error("agent {}: recording its activity: {}", *agent, e.what());
    }
  }
  return agent;
}

int Daemon::run() {
  started_at_ = std::chrono::steady_clock::now();
  // Boost.Process waits on pids; an inherited SIG_IGN for SIGCHLD would lose exit codes.
  std::signal(SIGCHLD, SIG_DFL);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    start();
  } catch (const std::exception& e) {
    // Before logging is set up, or when detached, the log does not reach the terminal.
    if (logging_ready_) spdlog::critical("cannot start: {}", e.what());
    if (!logging_ready_ || !options_.log_to_stderr) std::fprintf(stderr, "vermas-operations: cannot start: %s\n", e.what());
    return 1;
  }
  journal_->record({"operations.started", "operations", std::nullopt, std::nullopt,
                    {{"pid", ::getpid()}, {"version", kVersion}, {"root", paths().root.string()},
                     {"socket", server_->socket_path().string()}}});
  spdlog::info("vermas-operations {} serving {} on {} (pid {})", kVersion, paths().root.string(),
               server_->socket_path().string(), ::getpid());
  systemd_.ready("serving " + server_->socket_path().string());
  // Watchdog pings (and the status line) from a timer on this io_context: a hung loop stops them.
  systemd_.start([this] { return service_status(); });
  reports_->start();  // after operations.started: a standup missed today is written now
  if (options_.ready_fd >= 0) {
    (void)!::write(options_.ready_fd, "R", 1);
    ::close(options_.ready_fd);
    options_.ready_fd = -1;
    // Detached: the starter's terminal is no longer ours; the log file has everything.
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
  }

  // Re-adoption and the first patrol run on the loop: the socket already answers, and a
  // slow tmux query never delays start-up.
  boost::asio::co_spawn(io_, start_agents(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("supervisor start-up failed: {}", ex.what());
    }
  });

  io_.run();
  // What the loop left suspended goes now, while everything it refers to still lives.
  io_.destroy_pending();

  server_->close_all_now();
  try {
    journal_->record({"operations.stopped", "operations", std::nullopt, std::nullopt,
                      {{"pid", ::getpid()}, {"reason", stop_reason_}}});
  } catch (const std::exception& e) {
    spdlog::error("recording operations.stopped: {}", e.what());
  }
  spdlog::info("vermas-operations stopped ({})", stop_reason_);
  tear_down();
  return 0;
}

void Daemon::tear_down() {
  io_.destroy_pending();
  server_.reset();
  backups_.reset();  // stops a backup still running, and waits for its thread
  reports_.reset();
  retention_.reset();
  log_maintenance_.reset();
  loops_.reset();
  mail_reminders_.reset();  // unsubscribes: before the journal and the supervisor go
  unread_mail_.reset();     // unsubscribes too
  squad_.reset();
  spending_.reset();
  alert_notifier_.reset();  // unsubscribes: before the journal goes
  wo_sync_.reset();
  dispatcher_.reset();
  work_orders_.reset();
  supervisor_.reset();
  factories_.reset();
  // The last commits are synced and published (the feed gets them) before the journal goes.
  if (group_commit_) group_commit_->flush();
  if (store_) {
    store_->on_commit(nullptr);
    store_->batch_with(nullptr, nullptr);
    store_->on_wal(nullptr);
  }
  checkpointer_.reset();
  router_.set_group_commit(nullptr);
  if (journal_) journal_->set_group_commit(nullptr);
  group_commit_.reset();
  journal_.reset();
  store_.reset();
  pid_file_.reset();
}

void Daemon::request_stop(const std::string& reason, bool stop_agents) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = reason;
  spdlog::info("stopping: {}", reason);
  systemd_.stop();
  systemd_.stopping("stopping: " + reason);
  try {
    journal_->record({"operations.stopping", "operations", std::nullopt, std::nullopt,
                      {{"reason", reason}, {"stop_agents", stop_agents}}});
  } catch (const std::exception& e) {
    spdlog::error("recording operations.stopping: {}", e.what());
  }
  // Slots stay assigned across a daemon stop: the next start reconciles and restarts them.
  dispatcher_->shutting_down();
  retention_->stop();
  wo_sync_->shutting_down();
  reports_->stop();
  alert_notifier_->shutting_down();
  mail_reminders_->shutting_down();
  if (stop_agents) {
    // Workers, then QA, then supervisors; the socket keeps answering meanwhile so
    // `co operations stop` can show progress.
    systemd_.status("stopping agents");
    supervisor_->stop_all([this] { finish_stop(); });
  } else {
    supervisor_->release_all();
    finish_stop();
  }
}

// Re-adoption first (nothing is started twice), then the slots are reconciled with what
// runs, and only then does the patrol start anything.
boost::asio::awaitable<void> Daemon::start_agents() {
  // However start-up ends (even by an exception), what waits for it goes on.
  struct Ready {
    Dispatcher& d;
    ~Ready() { d.ready(); }
  } ready{*dispatcher_};
  co_await supervisor_->start();
  if (!stopping_) co_await dispatcher_->reconcile();
  if (!stopping_) retention_->start();
  // Start-up (migrations, the feed's repair, loading and re-adopting every agent) leaves
  // free chunks all over the heap; give their pages back once.
  ::malloc_trim(0);
}

void Daemon::finish_stop() {
  boost::system::error_code ec;
  signals_.cancel(ec);
  // Connections get a moment to flush their last answers; then the loop ends regardless.
  stop_deadline_.expires_after(kStopGrace);
  stop_deadline_.async_wait([this](boost::system::error_code) { io_.stop(); });
  // The agents' last events (agent.stopped, agent.exited) reach subscribers only after the
  // sync that covers them: the connections drain after that, or a subscriber such as
  // `co operations stop` missed the last of them (1,895 of 2,000 agents counted stopped).
  group_commit_->after_durable([this](bool) {
    server_->stop();
    server_->on_drained([this] { io_.stop(); });
  });
}

void Daemon::watch_signals() {
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload_config("operations", "SIGHUP");
      watch_signals();
      return;
    }
    request_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT", true);
  });
}

Daemon::ReloadOutcome Daemon::reload_config(const std::string& actor, const std::string& trigger) {
  // systemctl reload waits for READY=1 after RELOADING=1, whether the new file was taken or not.
  systemd_.reloading();
  struct Reloaded {
    SystemdNotifier& n;
    ~Reloaded() { n.reloaded(); }
  } reloaded{systemd_};
  ReloadOutcome out;
  auto loaded = load_config(options_.config_file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) out.errors.push_back(e.to_string());
    spdlog::error("config reload ({}) refused; keeping the running configuration:", trigger);
    for (const auto& e : out.errors) spdlog::error("  {}", e);
    journal_->record({"config.reload_failed", actor, std::nullopt, std::nullopt,
                      {{"trigger", trigger}, {"file", options_.config_file.string()}, {"errors", out.errors}}});
    return out;
  }
  for (const auto& w : loaded.warnings) spdlog::warn("config: {}", w.to_string());
  std::map<std::string, nlohmann::json> before, after;
  flatten(to_json(config_), "", before);
  flatten(to_json(loaded.value), "", after);
  for (const auto& [k, v] : after)
    if (before[k] != v) out.changed.push_back(k);
  for (const auto& k : out.changed)
    if (k == "operations.socket" || k == "operations.socket_group") out.restart_required.push_back(k);

  config_ = std::move(loaded.value);
  if (!options_.log_level) set_log_level(config_.operations.log_level);
  feed_->set_limits(mb_to_bytes(config_.events.feed_max_mb), config_.events.feed_keep);
  server_->set_request_timeout(to_ms(config_.operations.request_timeout_seconds));
  supervisor_->config_changed();
  out.ok = true;
  spdlog::info("config reloaded ({}): {} key(s) changed", trigger, out.changed.size());
  journal_->record({"config.reloaded", actor, std::nullopt, std::nullopt,
                    {{"trigger", trigger}, {"file", options_.config_file.string()},
                     {"changed", out.changed}, {"restart_required", out.restart_required}}});
  reports_->config_changed();  // after the record: a standup it writes at once follows it in the log
  return out;
}

nlohmann::json Daemon::health() {
  // Degraded while writes fail (disk full, I/O errors), not only when reads do: a daemon
  // that cannot commit cannot acknowledge anything. When the last write failed, one tiny
  // probe write tells whether it works again.
  std::optional<std::string> db_error;
  try {
    (void)store_->last_event_id();
    if (store_->write_failure() && !store_->probe_write()) db_error = store_->write_failure();
    if (!db_error && group_commit_->failing()) db_error = group_commit_->failing();
  } catch (const std::exception& e) {
    db_error = e.what();
  }
  const int failed = supervisor_->failed_count();
  const int stale = supervisor_->stale_count();
  // A stale agent (heartbeats stopped) makes the agents degraded; a failed one is named.
  const std::string agents = stale ? "degraded" : failed ? std::to_string(failed) + " failed" : "ok";
  bool ok = !db_error && failed == 0 && stale == 0;
  auto now = std::chrono::system_clock::now();
  nlohmann::json out = {{"status", ok ? "ok" : "degraded"},
          {"timestamp", std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()},
          {"time", format_rfc3339_ms(now)},
          {"version", kVersion},
          {"pid", ::getpid()},
          {"uptime_seconds", uptime_seconds()},
          {"services", {{"api", "ok"}, {"db", db_error ? "degraded" : "ok"}, {"agents", agents}}}};
  if (db_error) out["db_error"] = *db_error;
  const auto writes = group_commit_->stats();
  out["db_writes"] = {{"transactions", writes.transactions}, {"commits", writes.commits},
                      {"syncs", writes.syncs},               {"sync_failures", writes.failures},
                      {"rolled_back", writes.rolled_back}};
  const auto checkpoints = checkpointer_->stats();
  out["db_writes"]["checkpoints"] = checkpoints.checkpoints + checkpoints.finished;
  out["db_writes"]["checkpoint_failures"] = checkpoints.failures;
  return out;
}

nlohmann::json Daemon::status(AgentMembers members) {
  // The factories and their agents are written as text (json_text.hpp) from one pass over
  // the agents: at 200 agents an nlohmann value per agent, and a list per factory, cost
  // milliseconds of the io thread. Each agent's view is made into the same AgentView in
  // turn, which keeps its strings' storage: copies of 2,000 records made status at 2,000
  // agents mostly malloc and free.
  const AgentRegistry& registry = supervisor_->registry();
  std::map<std::string_view, std::vector<const Agent*>> agents_of;  // in id order
  std::size_t agents = 0;
  for (const auto& [id, a] : registry.all()) {
    ++agents;
    if (a->rec.factory) agents_of[*a->rec.factory].push_back(a.get());
  }
  AgentView view;
  auto write_factories = [&](std::string& factories) {
    factories += '[';
    bool first = true;
    for (const auto& [name, f] : factories_->all()) {
      if (!first) factories += ',';
      first = false;
      factories += "{\"agents\":[";
      if (auto it = agents_of.find(name); it != agents_of.end())
        for (std::size_t i = 0; i < it->second.size(); ++i) {
          if (i) factories += ',';
          registry.view_into(*it->second[i], view);
          append_json(factories, view, members);
        }
      factories += "],\"name\":";
      json_text::append_string(factories, name);
      factories += ",\"path\":";
      json_text::append_string(factories, f.path);
      factories += ",\"prefix\":";
      json_text::append_string(factories, f.prefix);
      factories += ",\"url\":";
      json_text::append_string(factories, f.url);
      factories += '}';
    }
    factories += ']';
  };
  const nlohmann::json rest = {
      {"company", config_.company.name},
      {"root", paths().root.string()},
      {"version", kVersion},
      {"pid", ::getpid()},
      {"uptime_seconds", uptime_seconds()},
      {"socket", server_->socket_path().string()},
      {"agents", supervisor_->counts()},
      {"work_orders", work_orders_->count_by_status()},
      {"unread_mail", unread_mail_->total()},
      {"open_alerts", alerts::open_count(*store_)},
      {"today_spend", spending_->costs().today_company()},
      {"squad", squad_->state()},
      {"connections", server_->connection_count()},
      {"last_event_id", store_->last_event_id()}};
  // One buffer from here to the wire: raw_json takes it and encode(json&&) makes the
  // response line in it (the reserve leaves room for the id in front).
  std::string out;
  out.reserve(agents * (members == kAllAgentMembers ? 650 : 200) + factories_->all().size() * 200 +
              unread_mail_->by_recipient_json().size() + 1024);
  json_text::append_object_with(
      out, rest,
      {{"factories", write_factories},
       {"unread_mail_by_agent", [this](std::string& o) { o += unread_mail_->by_recipient_json(); }}});
  return rpc::raw_json(std::move(out));
}

}  // namespace vermas
