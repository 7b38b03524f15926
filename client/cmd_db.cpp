// co backup, co restore, co verify-db (issue 13): their bodies and their entries in the
// command table. Backup and (with the daemon running) verification are RPCs; restore, and
// verification with the daemon stopped, run the daemon binary's offline modes.
#include <cstdio>
#include <iostream>

#include "client/commands.hpp"
#include "client/daemon_tool.hpp"

namespace vermas::client {

namespace fs = std::filesystem;

namespace {

// A backup or a verification of a large database takes a while; --timeout still wins.
constexpr double kDbWaitSeconds = 3600;

std::string db_size(double bytes) {
  char buf[32];
  if (bytes >= 1 << 20) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / (1 << 20));
  else if (bytes >= 1 << 10) std::snprintf(buf, sizeof buf, "%.1f kB", bytes / (1 << 10));
  else std::snprintf(buf, sizeof buf, "%.0f bytes", bytes);
  return buf;
}

// The offline tool's one JSON document, or a failure already reported.
std::optional<json> db_tool(Context& ctx, const std::vector<std::string>& args, int& rc) {
  std::vector<std::string> all{"--company-root", ctx.paths().root.string()};
  all.insert(all.end(), args.begin(), args.end());
  ToolRun run = run_daemon_tool(all);
  if (!run.error.empty()) {
    rc = fail(ctx, kDaemonError, run.error);
    return std::nullopt;
  }
  json doc = json::parse(run.out, nullptr, false);
  if (!doc.is_object()) {
    rc = fail(ctx, kDaemonError, "vermas-operations " + args.front() + " gave no answer (exit " +
                                     std::to_string(run.exit_code) + "); are co and vermas-operations the same version?");
    return std::nullopt;
  }
  return doc;
}

struct BackupOptions {
  std::optional<std::string> output;
};

int cmd_backup(Context& ctx, const BackupOptions& opts) {
  json params = json::object();
  if (opts.output) params["file"] = fs::absolute(*opts.output).lexically_normal().string();
  json r = ctx.call_waiting("db.backup", params, kDbWaitSeconds);
  return ctx.print(r, [](const json& b) {
    std::printf("backup written: %s (%s, events up to %lld, %zu files) in %.1f s\n",
                b.value("file", "").c_str(), db_size(b.value("bytes", 0.0)).c_str(),
                static_cast<long long>(b.value("highest_event_id", 0LL)), b.value("files", json::array()).size(),
                b.value("seconds", 0.0));
    const json removed = b.value("removed", json::array());
    for (const auto& name : removed) std::printf("  removed older backup %s\n", name.get<std::string>().c_str());
  });
}

struct RestoreOptions {
  std::string file;
};

int cmd_restore(Context& ctx, const RestoreOptions& opts) {
  // The tool itself takes the pid file's lock (the authority); asking first gives the
  // daemon's pid in the message even when its pid file lives elsewhere.
  try {
    json h = ctx.call("health");
    return fail(ctx, kDaemonError,
                "the daemon is running (pid " + std::to_string(h.value("pid", 0L)) +
                    "); stop it first: co operations stop",
                json{{"code", "running"}, {"message", "the daemon is running"}, {"pid", h.value("pid", 0L)}});
  } catch (const Unreachable&) {
  }
  int rc = kOk;
  auto doc = db_tool(ctx, {"--restore", fs::absolute(opts.file).lexically_normal().string()}, rc);
  if (!doc) return rc;
  if (doc->contains("error")) {
    const json e = (*doc)["error"];
    return fail(ctx, kDaemonError, e.value("message", "restore failed"), e);
  }
  return ctx.print(*doc, [](const json& r) {
    std::printf("restored %s (taken %s, events up to %lld, %zu files)\n", r.value("restored", "").c_str(),
                r.value("created_at", "").c_str(), static_cast<long long>(r.value("highest_event_id", 0LL)),
                r.value("files", json::array()).size());
    if (r.contains("pre_restore_dir") && r["pre_restore_dir"].is_string())
      std::printf("  the replaced state is kept in %s\n", r["pre_restore_dir"].get<std::string>().c_str());
    std::printf("next: co verify-db, then co operations start\n");
  });
}

void print_verify(const json& r) {
  const json checked = r.value("checked", json::object());
  const json findings = r.value("findings", json::array());
  if (r.value("ok", false)) {
    std::printf("verify-db: ok (%lld events, %lld work orders, %lld transitions, %zu projections equal a replay, "
                "%lld archive files; %.1f s%s)\n",
                static_cast<long long>(checked.value("events", 0LL)), static_cast<long long>(checked.value("work_orders", 0LL)),
                static_cast<long long>(checked.value("transitions", 0LL)), checked.value("projections", json::array()).size(),
                static_cast<long long>(checked.value("archive_files", 0LL)), r.value("seconds", 0.0),
                r.value("daemon", "") == "running" ? ", by the daemon" : ", read-only");
    return;
  }
  const long long dropped = r.value("findings_dropped", 0LL);
  std::printf("verify-db: %lld finding(s)\n", static_cast<long long>(findings.size()) + dropped);
  for (const auto& f : findings)
    std::printf("  %-12s %s\n", f.value("kind", "").c_str(), f.value("detail", "").c_str());
  if (dropped > 0) std::printf("  ... and %lld more\n", dropped);
}

int cmd_verify_db(Context& ctx) {
  json report;
  try {
    report = ctx.call_waiting("db.verify", json::object(), kDbWaitSeconds);
    report["daemon"] = "running";
  } catch (const Timeout&) {
    throw;
  } catch (const Unreachable&) {
    // Stopped: the runbook's order is stop, restore, verify, start. Read it ourselves.
    int rc = kOk;
    auto doc = db_tool(ctx, {"--verify-db"}, rc);
    if (!doc) return rc;
    report = std::move(*doc);
    report["daemon"] = "stopped";
  }
  ctx.print(report, print_verify);
  return report.value("ok", false) ? kOk : kDaemonError;
}

}  // namespace

std::vector<Command> db_commands() {
  return {
      {"backup", "a consistent snapshot of the company (database, configs, templates, event archive) as one .tar.gz",
       [](Args& a, BackupOptions& o) {
         a.option("-o,--output", o.output, "write here (default: [backup] dir, vermas-backup-<time>.tar.gz)");
       },
       cmd_backup},
      {"restore", "restore a backup (the daemon must be stopped); the replaced state goes to .work/pre-restore-<time>/",
       [](Args& a, RestoreOptions& o) { a.positional("FILE", o.file, "the backup (.tar.gz)").required(); }, cmd_restore},
      {"verify-db", "check the database: integrity, event order, work-order histories, projections against a replay",
       cmd_verify_db},
  };
}

}  // namespace vermas::client
