// co top: a live full-screen view of the company, like htop or pm2 monit: agents (status,
// pid, CPU, memory, heartbeat, work order, restarts), factories, open alerts and the latest
// events. It redraws when the daemon reports an event (events.subscribe on the one
// connection), re-reading agent.list, factory.list and alert.list at most 4 times a second.
// Plain ANSI escapes, no curses. Not a terminal (or --json): one snapshot, then exit.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/commands.hpp"
#include "client/top_view.hpp"

namespace vermas::client {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kKeptEvents = 50;
// A burst of events is one redraw: at most 4 a second.
constexpr auto kMinRedraw = std::chrono::milliseconds(250);
// CPU figures and heartbeat ages change without any event, so the lists are also re-read
// every 2 s: the only polling of the daemon, and the window of the CPU percentages.
constexpr auto kRefresh = std::chrono::seconds(2);

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal is gone: nothing more to show
    off += static_cast<std::size_t>(n);
  }
}

// The latest events, oldest first, and the id of the newest.
std::pair<json, std::int64_t> latest_events(Context& ctx) {
  json events = ctx.call("events.query", {{"limit", kKeptEvents}, {"newest_first", true}}).value("events", json::array());
  std::int64_t last = 0;
  for (const auto& e : events) last = std::max(last, e.value("id", std::int64_t{0}));
  return {events, last};
}

TopSnapshot gather(Context& ctx, const json& events) {
  TopSnapshot s;
  s.company = ctx.paths().root.string();
  s.agents = ctx.call("agent.list", {{"usage", true}}).value("agents", json::array());
  s.factories = ctx.call("factory.list").value("factories", json::array());
  s.alerts = ctx.call("alert.list", {{"resolved", false}}).value("alerts", json::array());
  s.events = events;
  s.taken_at = std::chrono::system_clock::now();
  return s;
}

// Signals as bytes on a pipe, so the main loop's poll() hears them beside the keyboard and
// the socket; the previous handlers come back when it ends.
class SignalPipe {
 public:
  explicit SignalPipe(std::initializer_list<int> signals) {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe: cannot watch signals");
    write_fd_ = fds_[1];
    for (int sig : signals) {
      struct sigaction sa {};
      sa.sa_handler = &SignalPipe::on_signal;
      sigemptyset(&sa.sa_mask);
      struct sigaction old {};
      if (::sigaction(sig, &sa, &old) == 0) saved_.push_back({sig, old});
    }
  }
  ~SignalPipe() {
    for (const auto& [sig, old] : saved_) ::sigaction(sig, &old, nullptr);
    write_fd_ = -1;
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const { return fds_[0]; }
  std::optional<int> take() const {
    unsigned char b = 0;
    if (::read(fds_[0], &b, 1) == 1) return static_cast<int>(b);
    return std::nullopt;
  }
  // A handler back to ours after a stop (SIGTSTP is raised with the default action).
  void reinstall(int sig) const {
    struct sigaction sa {};
    sa.sa_handler = &SignalPipe::on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }

 private:
  static void on_signal(int sig) {
    const int saved_errno = errno;
    const auto b = static_cast<unsigned char>(sig);
    if (write_fd_ >= 0) {
      const ssize_t n = ::write(write_fd_, &b, 1);  // a full pipe already holds a wake-up
      (void)n;
    }
    errno = saved_errno;
  }
  static inline volatile sig_atomic_t write_fd_ = -1;
  int fds_[2] = {-1, -1};
  std::vector<std::pair<int, struct sigaction>> saved_;
};

// The terminal while co top runs: keys one at a time and not echoed, the alternate screen,
// no cursor. The destructor gives it back however co top ends (q, a signal, an error).
class Screen {
 public:
  Screen() : keyboard_(::isatty(STDIN_FILENO) == 1) {
    if (keyboard_ && ::tcgetattr(STDIN_FILENO, &saved_) != 0) keyboard_ = false;
    enter();
  }
  ~Screen() { leave(); }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  bool keyboard() const { return keyboard_; }

  // Back to the shell's terminal (a stop, the end); idempotent.
  void leave() {
    if (!active_) return;
    active_ = false;
    write_all(STDOUT_FILENO, "\x1b[0m\x1b[?25h\x1b[?1049l");
    if (keyboard_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  // Into the view (the start, and again after a stop: the shell has set its own modes).
  void enter() {
    if (keyboard_) {
      termios raw = saved_;
      // ISIG stays: Ctrl-C is SIGINT and Ctrl-Z SIGTSTP, both handled.
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    write_all(STDOUT_FILENO, "\x1b[?1049h\x1b[?25l\x1b[2J");
    active_ = true;
  }

  void draw(const TopSnapshot& snapshot) const {
    winsize ws{};
    std::size_t cols = 80, rows = 24;
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
      cols = ws.ws_col;
      rows = ws.ws_row;
    }
    const auto lines = render_top(snapshot, cols, rows);
    // Each line in place (no clear first, so no flicker), the rest of it erased.
    std::string frame;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      frame += "\x1b[" + std::to_string(i + 1) + ";1H";
      std::string text = lines[i].text;
      std::size_t width = 0;
      for (unsigned char c : text) width += (c & 0xC0) != 0x80;
      if (lines[i].style == LineStyle::heading) {  // a full bar
        text.append(cols - width, ' ');
        width = cols;
      }
      if (lines[i].style == LineStyle::title) frame += "\x1b[1m";
      if (lines[i].style == LineStyle::heading) frame += "\x1b[7m";
      frame += text;
      if (lines[i].style != LineStyle::plain) frame += "\x1b[0m";
      // Erasing from the last column would erase its character: only when shorter.
      if (width < cols) frame += "\x1b[K";
    }
    if (lines.size() < rows) frame += "\x1b[" + std::to_string(lines.size() + 1) + ";1H\x1b[J";
    write_all(STDOUT_FILENO, frame);
  }

 private:
  bool keyboard_;
  bool active_ = false;
  termios saved_{};
};

// The live view until q (0) or a signal that ends it (its number, negated).
int run_live(Context& ctx) {
  SignalPipe signals({SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP, SIGCONT});
  // Subscribed before the log is read, so nothing falls between; ids remove the overlap.
  ctx.call("events.subscribe");
  auto [events, last_id] = latest_events(ctx);
  TopSnapshot snapshot = gather(ctx, events);
  Screen screen;
  screen.draw(snapshot);
  auto last_read = SteadyClock::now();
  bool changed = false;
  for (;;) {
    for (json& n : ctx.rpc().ready_notifications()) {
      if (n.value("method", "") != "event" || !n.contains("params")) continue;
      json& e = n["params"];
      const auto id = e.value("id", std::int64_t{0});
      if (id <= last_id) continue;
      last_id = id;
      events.push_back(std::move(e));
      if (events.size() > static_cast<std::size_t>(kKeptEvents)) events.erase(events.begin());
      changed = true;
    }
    const auto now = SteadyClock::now();
    if ((changed && now - last_read >= kMinRedraw) || now - last_read >= kRefresh) {
      snapshot = gather(ctx, events);
      last_read = now;
      changed = false;
      screen.draw(snapshot);
      continue;  // events may have come in with the answers
    }
    const auto due = changed ? last_read + kMinRedraw : last_read + kRefresh;
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
    pollfd fds[3] = {{signals.fd(), POLLIN, 0}, {ctx.rpc().fd(), POLLIN, 0}, {screen.keyboard() ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 3, static_cast<int>(std::max<long long>(0, wait))) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (fds[0].revents & POLLIN)
      while (auto sig = signals.take()) {
        if (*sig == SIGWINCH) {
          screen.draw(snapshot);
        } else if (*sig == SIGTSTP) {  // Ctrl-Z: the shell's terminal back while stopped
          screen.leave();
          ::signal(SIGTSTP, SIG_DFL);
          ::raise(SIGTSTP);
          signals.reinstall(SIGTSTP);
          screen.enter();
          screen.draw(snapshot);
        } else if (*sig == SIGCONT) {
          screen.enter();
          screen.draw(snapshot);
        } else {
          return -*sig;
        }
      }
    if (fds[2].revents & POLLIN) {
      char keys[64];
      const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
      for (ssize_t i = 0; i < n; ++i) {
        if (keys[i] == 'q' || keys[i] == 'Q') return kOk;
        if (keys[i] == 'r' || keys[i] == 'R') last_read = SteadyClock::time_point{};  // read again now
      }
    }
    if (fds[2].revents & (POLLHUP | POLLERR)) return -SIGHUP;  // the terminal went away
  }
}

int cmd_top(Context& ctx) {
  if (ctx.json_output() || ::isatty(STDOUT_FILENO) != 1) {
    const TopSnapshot snapshot = gather(ctx, latest_events(ctx).first);
    if (ctx.json_output()) {
      ctx.print_json(snapshot_json(snapshot));
    } else {
      for (const auto& line : render_top(snapshot, std::numeric_limits<std::size_t>::max(),
                                         std::numeric_limits<std::size_t>::max()))
        std::cout << line.text << "\n";
    }
    return kOk;
  }
  const int rc = run_live(ctx);
  if (rc >= 0) return rc;
  // Ended by a signal, the terminal already restored: die of it, as the shell expects.
  std::cout << std::flush;
  ::signal(-rc, SIG_DFL);
  ::raise(-rc);
  return 128 - rc;
}

}  // namespace

std::vector<Command> top_commands() {
  return {
      {"top", "a live view of agents (CPU, memory, heartbeat), factories, open alerts and events; q quits",
       cmd_top},
  };
}

}  // namespace vermas::client
