#include "daemon/governance/approvals.hpp"

#include "common/time.hpp"
#include "daemon/error.hpp"
#include "daemon/store/sqlite.hpp"

namespace vermas {

using nlohmann::json;

namespace {

const char* kApprovalColumns =
    "id, kind, agent, work_order, scope, scope_id, spend, cap, status, prior_status, created_at, decided_at, "
    "decided_by, approver, decision, override";

Approval read_approval(const sql::Stmt& s) {
  Approval a;
  a.id = s.int64(0);
  a.kind = s.text(1);
  a.agent = s.text(2);
  a.work_order = s.opt_text(3);
  a.scope = s.text(4);
  a.scope_id = s.text(5);
  a.spend = s.real(6);
  a.cap = s.real(7);
  a.status = s.text(8);
  a.prior_status = s.opt_text(9);
  a.created_at = s.text(10);
  a.decided_at = s.opt_text(11);
  a.decided_by = s.opt_text(12);
  a.approver = s.opt_text(13);
  a.decision = s.opt_text(14);
  a.override_cap = s.int64(15) != 0;
  return a;
}

json opt_text_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::string today() { return utc_today(); }

}  // namespace

json Approval::to_json() const {
  return {{"id", id},
          {"kind", kind},
          {"agent", agent},
          {"work_order", opt_text_json(work_order)},
          {"scope", scope},
          {"scope_id", scope_id.empty() ? json(nullptr) : json(scope_id)},
          {"spend", spend},
          {"cap", cap},
          {"status", status},
          {"prior_status", opt_text_json(prior_status)},
          {"created_at", created_at},
          {"decided_at", opt_text_json(decided_at)},
          {"decided_by", opt_text_json(decided_by)},
          {"approver", opt_text_json(approver)},
          {"decision", opt_text_json(decision)},
          {"override", override_cap}};
}

void Approvals::load() {
  waivers_.clear();
  sql::Stmt s(journal_.store().statements(),
              "SELECT substr(decided_at, 1, 10), scope, scope_id FROM approvals WHERE status = 'approved' AND override = 1"
              " AND decided_at >= ?",
              "reading today's waivers");
  s.bind(1, today());
  while (s.step()) waivers_.insert({s.text(0), s.text(1), s.text(2)});
}

std::int64_t Approvals::open(Store::Tx& tx, const Approval& d) {
  // Approvals are never deleted: the next after the largest is never reused.
  sql::Stmt next(tx.statements(), "SELECT COALESCE(MAX(id), 0) + 1 FROM approvals", "choosing an approval id");
  next.step();
  const std::int64_t id = next.int64(0);
  tx.append({"approval.opened", "operations", std::nullopt, d.agent,
             {{"approval_id", id},
              {"kind", d.kind},
              {"agent", d.agent},
              {"work_order", opt_text_json(d.work_order)},
              {"scope", d.scope},
              {"scope_id", d.scope_id},
              {"spend", d.spend},
              {"cap", d.cap},
              {"prior_status", opt_text_json(d.prior_status)}}});
  return id;
}

std::optional<Approval> Approvals::find(std::int64_t id) const {
  sql::Stmt s(journal_.store().statements(), std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE id = ?",
              "reading an approval");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_approval(s);
}

Approval Approvals::require(std::int64_t id) const {
  auto a = find(id);
  if (!a) throw Error(Errc::not_found, "no approval " + std::to_string(id) + " (see: co approval list)", json{{"id", id}});
  return *a;
}

json Approvals::list(const std::optional<std::string>& status) const {
  std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals";
  if (status) sql += " WHERE status = ?";
  sql += " ORDER BY id DESC LIMIT 1000";
  sql::Stmt s(journal_.store().statements(), sql, "listing approvals");
  if (status) s.bind(1, *status);
  json out = json::array();
  while (s.step()) out.push_back(read_approval(s).to_json());
  return out;
}

void Approvals::decide(const Approval& a, bool approved, const std::string& approver, const std::string& decision,
                       bool override_cap, const std::string& actor) {
  journal_.commit([&](Store::Tx& tx) {
    tx.append({"approval.decided", actor, std::nullopt, a.agent,
               {{"approval_id", a.id},
                {"status", approved ? "approved" : "denied"},
                {"approver", approver},
                {"decision", decision},
                {"override", approved && override_cap}}});
  });
  if (approved && override_cap) waivers_.insert({today(), a.scope, a.scope_id});
}

bool Approvals::waived(caps::Scope scope, const std::string& id) const {
  return waivers_.count({today(), caps::to_string(scope), id}) > 0;
}

}  // namespace vermas
