// The agent lifecycle table, every status x event: the next status, or a refusal. The
// expectation below is written out on its own (from spec §4 and the runbooks), so a change
// to the table is a deliberate change here too.
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "daemon/agents/agent_lifecycle.hpp"
#include "tests/catch.hpp"

using namespace vermas;
using S = AgentStatus;
using E = AgentEvent;

namespace {

// status -> "event>to event>to ..." for every move allowed from it.
const std::map<std::string, std::string> kExpected = {
    {"stopped", "start>starting start_limit>failed stop>stopped kill>stopped reset>stopped quarantine>quarantined"},
    {"starting", "spawned>running spawn_retry>backoff spawn_failed>failed adopt>running lost>lost"},
    {"running", "exit_at_shutdown>stopped exit_restart>backoff exit_failed>failed exit_stays_down>stopped stop>stopping kill>stopping "
                "restart>stopping adopt>running lost>lost idle_timeout>idle stuck_timeout>stuck activity>running "
                "pause>paused budget_exceeded>paused squad_pause>paused reset>running"},
    {"idle", "exit_at_shutdown>stopped exit_restart>backoff exit_failed>failed exit_stays_down>stopped stop>stopping kill>stopping "
             "restart>stopping adopt>idle lost>lost activity>running stuck_timeout>stuck pause>paused "
             "budget_exceeded>paused squad_pause>paused reset>idle"},
    {"stuck", "exit_at_shutdown>stopped exit_restart>backoff exit_failed>failed exit_stays_down>stopped stop>stopping kill>stopping "
              "restart>stopping adopt>stuck lost>lost activity>running pause>paused budget_exceeded>paused "
              "squad_pause>paused reset>stuck"},
    {"paused", "exit_at_shutdown>stopped resume>running squad_resume>running exit_restart>backoff exit_failed>failed exit_stays_down>stopped "
               "stop>stopping kill>stopping restart>stopping adopt>paused lost>lost pause>paused "
               "budget_exceeded>paused squad_pause>paused activity>paused reset>paused"},
    {"quarantined", "release>stopped stop>quarantined kill>quarantined quarantine>quarantined reset>quarantined"},
    {"backoff", "backoff_elapsed>starting start>starting start_limit>failed stop>stopped kill>stopped reset>backoff "
                "quarantine>quarantined"},
    {"stopping", "exit_as_asked>stopped exit_at_shutdown>stopped exit_for_restart>stopped stop>stopping "
                 "kill>stopping adopt>stopping lost>stopped activity>stopping"},
    {"failed", "start>starting stop>failed kill>failed reset>stopped quarantine>quarantined"},
    {"lost", "exit_restart>backoff exit_failed>failed exit_stays_down>stopped start>starting start_limit>failed "
             "stop>stopped kill>stopped"},
};

std::map<std::string, std::string> moves_of(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string pair; in >> pair;) {
    auto gt = pair.find('>');
    REQUIRE(gt != std::string::npos);
    REQUIRE(out.emplace(pair.substr(0, gt), pair.substr(gt + 1)).second);  // no event listed twice
  }
  return out;
}

}  // namespace

TEST_CASE("lifecycle: every status x event is the expected move or a refusal", "[lifecycle_table]") {
  int allowed = 0, refused = 0;
  REQUIRE(kExpected.size() == all_agent_statuses().size());
  for (auto s : all_agent_statuses()) {
    REQUIRE(kExpected.count(to_string(s)) == 1);
    auto expected = moves_of(kExpected.at(to_string(s)));
    for (int i = 0; i < kAgentEventCount; ++i) {
      const auto e = static_cast<AgentEvent>(i);
      INFO(to_string(s) << " + " << to_string(e));
      auto move = next(s, e);
      auto want = expected.find(to_string(e));
      if (want == expected.end()) {
        CHECK(!move.has_value());
        ++refused;
      } else {
        REQUIRE(move.has_value());
        CHECK(to_string(move->to) == want->second);
        ++allowed;
      }
    }
    for (const auto& [event, to] : expected) CHECK(parse_agent_event(event).has_value());  // no typo above
  }
  CHECK(allowed + refused == 11 * kAgentEventCount);
  WARN("lifecycle table: " << allowed << " moves, " << refused << " refusals");
}

TEST_CASE("lifecycle: effects follow from the move", "[lifecycle_table]") {
  for (auto s : all_agent_statuses()) {
    for (int i = 0; i < kAgentEventCount; ++i) {
      const auto e = static_cast<AgentEvent>(i);
      auto m = next(s, e);
      if (!m) continue;
      INFO(to_string(s) << " + " << to_string(e) << " -> " << to_string(m->to));
      // Into starting means a launch; a launch only ever lands in starting.
      CHECK((m->to == S::starting) == ((m->effects & effect::launch) != 0));
      // Into backoff from a process or launch means a restart timer.
      if (m->to == S::backoff && s != S::backoff) CHECK((m->effects & effect::arm_backoff) != 0);
      // Frozen when it becomes paused from a working status; thawed when it leaves paused to run.
      if (m->to == S::paused && (s == S::running || s == S::idle || s == S::stuck))
        CHECK((m->effects & effect::freeze) != 0);
      if (s == S::paused && m->to == S::running) CHECK((m->effects & effect::thaw) != 0);
      // Into stopping means a signal.
      if (m->to == S::stopping && e != E::activity) CHECK((m->effects & (effect::terminate | effect::kill_now)) != 0);
      // Leaving backoff for anything but its own timer's start drops the timer.
      if (s == S::backoff && m->to != S::backoff && e != E::backoff_elapsed && e != E::start_limit)
        CHECK((m->effects & effect::cancel_backoff) != 0);
      // Only an agent with a process can be frozen, held or thawed.
      if (m->effects & (effect::freeze | effect::thaw))
        CHECK((s == S::running || s == S::idle || s == S::stuck || s == S::paused || s == S::quarantined));
      // A start limit always raises an alert.
      if (m->to == S::failed && (e == E::start_limit || e == E::exit_failed)) CHECK((m->effects & effect::raise_alert) != 0);
    }
  }
}

TEST_CASE("lifecycle: the status table is the lifecycle table's moves", "[lifecycle_table]") {
  for (auto from : all_agent_statuses())
    for (auto to : all_agent_statuses()) {
      bool any = false;
      for (int i = 0; i < kAgentEventCount; ++i) {
        auto m = next(from, static_cast<AgentEvent>(i));
        any = any || (m && m->to == to && from != to);
      }
      INFO(to_string(from) << " -> " << to_string(to));
      CHECK(agent_transition_allowed(from, to) == any);
    }
}

TEST_CASE("lifecycle: what an exit means", "[lifecycle_table]") {
  using A = RestartDecision::Action;
  ExitContext c;
  c.status = S::running;
  CHECK(classify_exit(c) == E::exit_restart);
  c.policy = A::give_up;
  CHECK(classify_exit(c) == E::exit_failed);
  c.policy = A::stay_stopped;
  CHECK(classify_exit(c) == E::exit_stays_down);
  c.policy = A::restart;

  // What was asked for wins over the policy.
  for (auto [intent, event] : {std::pair{ExitIntent::stop, E::exit_as_asked}, std::pair{ExitIntent::kill, E::exit_as_asked},
                               std::pair{ExitIntent::shutdown, E::exit_at_shutdown},
                               std::pair{ExitIntent::restart, E::exit_for_restart}}) {
    ExitContext k = c;
    k.status = S::stopping;
    k.intent = intent;
    CHECK(classify_exit(k) == event);
  }
  // A stop begun by an older daemon: still the exit asked for.
  ExitContext old = c;
  old.status = S::stopping;
  CHECK(classify_exit(old) == E::exit_as_asked);

  // A worker is restarted only while its work order is in its hands.
  ExitContext w = c;
  w.worker = true;
  CHECK(classify_exit(w) == E::exit_stays_down);
  w.worker_has_work = true;
  CHECK(classify_exit(w) == E::exit_restart);

  // The CEO runs on demand: its exit, clean or not, leaves it down whatever the policy says.
  ExitContext ceo = c;
  ceo.on_demand = true;
  CHECK(classify_exit(ceo) == E::exit_stays_down);
  ceo.intent = ExitIntent::restart;  // an operator's restart is still one
  CHECK(classify_exit(ceo) == E::exit_for_restart);

  // Held agents never restart; nothing restarts while the daemon stops.
  ExitContext q = c;
  q.status = S::quarantined;
  CHECK(classify_exit(q) == E::exit_stays_down);
  // Paused by an operator or a budget: never restarted; a squad pause only holds it.
  ExitContext p = c;
  p.status = S::paused;
  CHECK(classify_exit(p) == E::exit_restart);
  p.held = true;
  CHECK(classify_exit(p) == E::exit_stays_down);
  ExitContext sd = c;
  sd.shutting_down = true;
  CHECK(classify_exit(sd) == E::exit_at_shutdown);

  // Every classified exit is a move the table has from the status of a process that exited.
  for (auto s : {S::running, S::idle, S::stuck, S::paused, S::stopping})  // the statuses with a process
    for (auto pol : {A::restart, A::give_up, A::stay_stopped})
      for (bool worker : {false, true})
        for (bool work : {false, true})
          for (bool down : {false, true}) {
          ExitContext x;
          x.status = s;
          x.policy = pol;
          x.worker = worker;
          x.worker_has_work = work;
          x.shutting_down = down;
          INFO(to_string(s) << " " << to_string(classify_exit(x)));
          CHECK(next(s, classify_exit(x)).has_value());
        }
}
