#include "daemon/governance/squad.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/sqlite.hpp"

namespace vermas {

using nlohmann::json;

void Squad::load() {
  sql::Stmt s(journal_.store().statements(), "SELECT paused FROM squad WHERE name = 'company'", "reading the squad");
  paused_ = s.step() && s.int64(0) != 0;
  supervisor_.hold_starts(paused_);
  if (paused_) spdlog::warn("the squad is paused: nothing starts until co resume --all");
}

json Squad::state() const {
  sql::Stmt s(journal_.store().statements(), "SELECT paused, reason, since, actor FROM squad WHERE name = 'company'",
              "reading the squad");
  if (!s.step()) return {{"paused", false}, {"reason", nullptr}, {"since", nullptr}, {"by", nullptr}};
  return {{"paused", s.int64(0) != 0}, {"reason", s.text(1)}, {"since", s.text(2)}, {"by", s.text(3)}};
}

json Squad::pause(const std::string& reason, const std::string& actor) {
  if (paused_) {
    json out = state();
    out["frozen"] = json::array();
    return out;
  }
  const std::vector<std::string> frozen = supervisor_.pause_all(actor);  // SIGSTOP first, then the record
  paused_ = true;
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"squad.paused", actor, std::nullopt, std::nullopt, {{"reason", reason}, {"frozen", frozen}}});
  });
  spdlog::warn("squad paused by {} ({}): {} agents frozen", actor, reason, frozen.size());
  json out = state();
  out["frozen"] = frozen;
  return out;
}

json Squad::resume(const std::string& actor) {
  if (!paused_) {
    json out = state();
    out["thawed"] = json::array();
    return out;
  }
  const std::vector<std::string> thawed = supervisor_.resume_all(actor);
  paused_ = false;
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"squad.resumed", actor, std::nullopt, std::nullopt, {{"thawed", thawed}}});
  });
  json out = state();
  out["thawed"] = thawed;
  return out;
}

}  // namespace vermas
