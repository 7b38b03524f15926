#pragma once
// The squad pause (spec §6 squad.*; the runbook's "pause everything"): every agent frozen at
// once (reason squad), dispatch, spawns and starts refused, no restarts, until squad.resume,
// which thaws only what the squad pause froze (an agent paused by an operator or a budget
// stays paused). A projection of squad.paused / squad.resumed (the `squad` table), so a
// restarted daemon is still squad-paused.
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/agents/supervisor.hpp"
#include "daemon/store/journal.hpp"

namespace vermas {

class Squad {
 public:
  Squad(Journal& journal, Supervisor& supervisor) : journal_(journal), supervisor_(supervisor) {}
  Squad(const Squad&) = delete;
  Squad& operator=(const Squad&) = delete;

  // At start: a squad paused before stays paused (starts held).
  void load();
  // {paused, reason, since, by}
  nlohmann::json state() const;
  bool paused() const { return paused_; }
  nlohmann::json pause(const std::string& reason, const std::string& actor);
  nlohmann::json resume(const std::string& actor);

 private:
  Journal& journal_;
  Supervisor& supervisor_;
  bool paused_ = false;
};

}  // namespace vermas
