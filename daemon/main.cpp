// vermas-operations: flags, configuration check, detaching, then Daemon::run().
#include <malloc.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include <CLI/CLI.hpp>

#include "common/config.hpp"
#include "common/paths.hpp"
#include "daemon/backup/restore.hpp"
#include "daemon/daemon.hpp"
#include "daemon/store/verify.hpp"
#include "version.hpp"

namespace {

// sysexits' EX_CONFIG: a start that cannot succeed until someone edits a file. The system
// unit names it in RestartPreventExitStatus=, so systemd reports it once instead of
// restarting into the same error every RestartSec.
constexpr int kExitConfig = 78;

bool under_systemd() { return std::getenv("NOTIFY_SOCKET") || std::getenv("INVOCATION_ID"); }

// Forks; the parent waits until the child reports readiness (or dies) and exits with the
// matching status, so `vermas-operations && co status` just works. Returns the ready fd
// in the child.
int detach() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("vermas-operations: pipe");
    std::exit(1);
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("vermas-operations: fork");
    std::exit(1);
  }
  if (pid > 0) {
    ::close(fds[1]);
    char c = 0;
    ssize_t n;
    do n = ::read(fds[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'R') std::exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
  }
  ::close(fds[0]);
  ::setsid();
  // stdin/stdout go now; stderr stays with the starter until readiness so that a startup
  // error reaches the operator's terminal.
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::dup2(null, 0);
  ::dup2(null, 1);
  if (null > 2) ::close(null);
  return fds[1];
}

// The offline tools `co` runs when the daemon is stopped (co verify-db, co restore): one JSON
// document on stdout, which co prints; they live here because they need SQLite and the
// store's pieces, which the static, thin client does not link.
int verify_db(const vermas::Paths& paths) {
  auto report = vermas::verify_database(paths);
  std::cout << vermas::to_json(report).dump(2) << "\n";
  return report.ok() ? 0 : 1;
}

int restore(const vermas::Paths& paths, const std::string& file) {
  try {
    std::cout << vermas::backup::restore_backup(paths, file).dump(2) << "\n";
    return 0;
  } catch (const vermas::backup::RestoreError& e) {
    std::cout << nlohmann::json{{"error", {{"kind", e.kind()}, {"message", e.what()}}}}.dump(2) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cout << nlohmann::json{{"error", {{"kind", "io"}, {"message", e.what()}}}}.dump(2) << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena: the io thread does nearly all the work; the few short threads (backup,
  // verify, the rebuild's comparison) would each keep an arena of their own resident after
  // they end.
  ::mallopt(M_ARENA_MAX, 1);
  // A fixed mmap threshold: glibc's moves up to the largest block freed, so after one big
  // answer (status at 2,000 agents is 1.2 MB of text) every later one came from the heap and
  // stayed resident when freed. Fixed, blocks past it are mmapped and go back at free
  // (512 KiB: the answers at 200 agents, ~120 KB, stay on the heap and are reused).
  ::mallopt(M_MMAP_THRESHOLD, 512 * 1024);
  CLI::App app{"vermas-operations: the VerMAS operations daemon (patrol, supervision, state, socket)"};
  std::optional<std::string> root_flag, config_flag, log_level;
  std::optional<std::string> restore_file;
  bool foreground = false, check_config = false, version = false, verify = false;
  app.add_option("--company-root", root_flag, "company root (default: $COMPANY_ROOT, nearest parent with .vermas/, ~/company)");
  app.add_option("--config", config_flag, "configuration file (default: ROOT/.vermas/config.toml)");
  app.add_flag("--foreground", foreground, "stay in the foreground (default under systemd)");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  app.add_flag("--verify-db", verify, "check the database read-only (co verify-db with the daemon stopped); JSON, exit 1 on findings");
  app.add_option("--restore", restore_file, "restore a backup with the daemon stopped (co restore FILE); JSON");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // The guide's LOG_LEVEL (DEBUG, INFO, WARNING ...) when no --log-level is given; it then
  // outranks the config's log_level, as the flag does.
  if (!log_level)
    if (const char* env = std::getenv("LOG_LEVEL"); env && *env) {
      std::string level;
      for (const char* c = env; *c; ++c) level += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
      if (level == "warning") level = "warn";
      if (level == "fatal") level = "critical";
      static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (!kLevels.count(level)) {
        std::cerr << "vermas-operations: LOG_LEVEL=" << env
                  << " is not a level: use TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL or OFF\n";
        return 2;
      }
      log_level = level;
    }
  if (version) {
    std::cout << "vermas-operations " << vermas::kVersion << "\n";
    return 0;
  }

  if (root_flag && root_flag->empty()) {
    // The system unit passes --company-root ${COMPANY_ROOT}: an unedited default file.
    std::cerr << "vermas-operations: --company-root is empty: set COMPANY_ROOT in /etc/default/vermas-operations "
                 "(a root made with: co init --company-root /srv/company), then: systemctl restart vermas-operations\n";
    return kExitConfig;
  }
  auto root = vermas::discover_company_root(root_flag, std::filesystem::current_path());
  vermas::Paths paths{root.root};
  std::filesystem::path config_file = config_flag ? std::filesystem::absolute(*config_flag) : paths.config_file();

  if (verify) return verify_db(paths);
  if (restore_file) return restore(paths, *restore_file);

  vermas::Config config;
  std::error_code ec;
  if (config_flag || std::filesystem::exists(config_file, ec) || check_config) {
    auto loaded = vermas::load_config(config_file);
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    for (const auto& w : loaded.warnings) std::cerr << "warning: " << w.to_string() << "\n";
    if (!loaded.ok()) {
      std::cerr << "vermas-operations: " << loaded.errors.size() << " error(s) in " << config_file.string() << "\n";
      return check_config ? 1 : kExitConfig;
    }
    config = std::move(loaded.value);
  }
  if (check_config) {
    std::cout << config_file.string() << ": ok\n";
    return 0;
  }
  if (!std::filesystem::is_directory(paths.vermas_dir(), ec)) {
    std::cerr << "vermas-operations: " << paths.root.string()
              << " is not a company root (no .vermas/ directory); create one with: co init --company-root "
              << paths.root.string() << "\n";
    return kExitConfig;
  }

  vermas::DaemonOptions options{paths, config_file, log_level};
  if (!foreground && !under_systemd()) {
    options.ready_fd = detach();
    options.log_to_stderr = false;
  }
  int rc;
  {
    vermas::Daemon daemon(std::move(options), std::move(config));
    rc = daemon.run();
  }
  return rc;
}
