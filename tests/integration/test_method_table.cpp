// The method table from outside: agents (QA, supervisor, a worker) fetch rpc.methods and
// call every method with {} through `co call`, and each answer must agree with the access
// column; the table's own refusals (another agent's id, another factory, a role not
// listed) are -32003; and docs/protocol.md names exactly the table's methods and its
// access rules.
#include "tests/catch.hpp"

#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/company.hpp"
#include "tests/integration/harness.hpp"

// One namespace for everything here: the tests build as unity batches.
namespace method_table_test {

using namespace it;

// Agent id -> a file-name stem (the script does the same with tr).
std::string stem_of(const std::string& agent) {
  std::string s = agent;
  for (char& ch : s)
    if (ch == '/') ch = '_';
  return s;
}

// The extra calls an agent makes after its sweep: the access column's own refusals, made
// from the table so a method added later is covered too. Tab-separated: method, params.
std::vector<std::pair<std::string, json>> refused_calls(const json& table, const std::string& role,
                                                        const std::string& factory) {
  std::vector<std::pair<std::string, json>> out;
  const std::string someone_else = role == "qa" ? factory + "/supervisor" : factory + "/qa";
  for (const auto& m : table["methods"]) {
    const std::string access = m["access"], name = m["name"];
    if (access == "agent_self") out.push_back({name, {{m["param"].get<std::string>(), someone_else}}});
    if (access != "factory_roles") continue;
    const auto& roles = m["roles"];
    if (std::find(roles.begin(), roles.end(), json(role)) == roles.end())
      out.push_back({name, {{m["param"].get<std::string>(), factory}}});  // its own factory, the wrong role
    else if (role != "ceo")
      out.push_back({name, {{m["param"].get<std::string>(), "elsewhere"}}});  // the right role, another factory
  }
  return out;
}

// `co --json call` prints the result, or {"error": {...}}; nullopt for a result.
std::optional<json> error_of(const std::string& file) {
  auto j = parse_json(read_file(file));
  INFO(file << ": " << read_file(file));
  REQUIRE(!j.is_discarded());
  REQUIRE(j.is_object());
  if (!j.contains("error")) return std::nullopt;
  REQUIRE(j["error"].contains("code"));
  return j["error"];
}

// ---- docs/protocol.md

struct DocMethods {
  std::set<std::string> named;                                 // headings and `| method |` tables of §4
  std::map<std::string, std::set<std::string>> by_access;      // the `| access |` table: access -> methods
};

std::vector<std::string> backticked(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find('`'); at != std::string::npos;) {
    auto end = text.find('`', at + 1);
    if (end == std::string::npos) break;
    out.push_back(text.substr(at + 1, end - at - 1));
    at = text.find('`', end + 1);
  }
  return out;
}

bool method_like(const std::string& s) {
  static const std::regex name(R"([a-z][a-z_]*(\.[a-z_]+)*)");
  return std::regex_match(s, name);
}

std::string cell(const std::string& row, bool last) {
  auto first = last ? row.rfind('|', row.size() - 2) : row.find('|');
  auto second = last ? row.rfind('|') : row.find('|', first + 1);
  if (first == std::string::npos || second == std::string::npos || second <= first) return "";
  return row.substr(first + 1, second - first - 1);
}

DocMethods read_protocol_doc(const std::string& text) {
  DocMethods out;
  bool in_methods = false, in_code = false;
  std::string table;  // the current table's first header cell
  for (std::string line : lines_of(text)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.rfind("```", 0) == 0) in_code = !in_code;
    if (in_code) continue;
    if (line.rfind("## ", 0) == 0) in_methods = line.rfind("## 4.", 0) == 0;
    if (!in_methods) continue;
    if (line.rfind("|", 0) != 0) {
      table.clear();
      if (line.rfind("### ", 0) == 0) {
        auto names = backticked(line);
        if (!names.empty() && method_like(names.front())) out.named.insert(names.front());
      }
      continue;
    }
    std::string first = cell(line, false);
    if (table.empty()) {
      const auto start = first.find_first_not_of(' ');
      table = start == std::string::npos ? "?" : first.substr(start, first.find(' ', start) - start);
      continue;
    }
    if (first.find("---") != std::string::npos) continue;
    if (table == "method") {
      for (const auto& n : backticked(first))
        if (method_like(n)) out.named.insert(n);
    } else if (table == "access") {
      auto access = backticked(first);
      if (access.empty()) continue;
      for (const auto& n : backticked(cell(line, true)))
        if (method_like(n)) out.by_access[access.front()].insert(n);
    }
  }
  return out;
}

std::string listed(const std::set<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "(none)" : s;
}

TEST_CASE("agents calling every method with {} are refused exactly what the access column says", "[access]") {
  Settings s;
  Company c(s);
  const std::string out = c.root.path("calls");
  // Fetch the table, call each method with {}, then the refusals the test lists; the answers
  // go to files named after the agent. `co --json call` prints one JSON document.
  const std::string sweep = c.script("sweep.sh", "calls=\"" + out + "\"\n" + R"SH(out="$calls.$(echo "$AGENT_ID" | tr / _)"
while [ ! -e "$calls.go" ]; do sleep 0.02; done
co --json call rpc.methods >"$out.methods" 2>/dev/null
for m in $(sed -n 's/^ *"name": "\([^"]*\)",\{0,1\}$/\1/p' "$out.methods"); do
  co --json call "$m" '{}' >"$out.call.$m" 2>/dev/null
done
n=0
tab="$(printf '\t')"
while IFS="$tab" read -r m p; do
  co --json call "$m" "$p" >"$out.refused.$n" 2>/dev/null
  n=$((n+1))
done <"$out.refusals"
touch "$out.done"
exec sleep 300
)SH");
  s.supervisor = s.qa = s.worker = {"/bin/sh", sweep};
  c.root.write_config(config_text(s));
  c.start();
  c.add_factory("f1");
  REQUIRE(c.root.co({"worker", "spawn", "f1"}).exit_code == 0);
  const std::map<std::string, std::string> agents = {
      {"f1/supervisor", "supervisor"}, {"f1/qa", "qa"}, {"f1/workers/slot0", "worker"}};
  std::map<std::string, pid_t> pids;
  for (const auto& [id, role] : agents) pids[id] = c.running_pid(id);

  const json table = c.result("rpc.methods");
  REQUIRE(table["methods"].size() > 40);
  std::map<std::string, std::vector<std::pair<std::string, json>>> refusals;
  for (const auto& [id, role] : agents) {
    refusals[id] = refused_calls(table, role, "f1");
    std::string lines;
    for (const auto& [method, params] : refusals[id]) lines += method + "\t" + params.dump() + "\n";
    write_file(out + "." + stem_of(id) + ".refusals", lines);
  }
  const long long since = c.result("status")["last_event_id"].get<long long>();
  write_file(out + ".go", "");
  for (const auto& entry : agents) {
    const std::string& id = entry.first;  // clang 14 cannot capture a structured binding
    INFO(id << " did not finish its calls");
    REQUIRE(eventually([&] { return file_exists(out + "." + stem_of(id) + ".done"); }, 60s));
  }

  int refused = 0, answered = 0;
  for (const auto& [id, role] : agents) {
    const std::string base = out + "." + stem_of(id);
    auto seen = parse_json(read_file(base + ".methods"));
    REQUIRE(!seen.is_discarded());
    CHECK(seen == table);  // an agent sees the same table as an operator
    for (const auto& m : table["methods"]) {
      const std::string name = m["name"], access = m["access"];
      const auto e = error_of(base + ".call." + name);
      INFO(id << " called " << name << " {} (" << access << "): " << (e ? e->dump() : "a result"));
      const auto& roles = m.value("roles", json::array());
      const bool role_listed = std::find(roles.begin(), roles.end(), json(role)) != roles.end();
      const bool expect_refusal = access == "operator" || (access == "factory_roles" && !role_listed);
      if (expect_refusal) {
        REQUIRE(e);
        CHECK((*e)["code"] == -32003);
        CHECK((*e)["data"]["method"] == name);
        CHECK((*e)["data"]["agent"] == id);
        if (access == "operator")
          CHECK((*e)["message"] == name + " is an operator method; agent " + id + " may not call it");
        ++refused;
      } else {
        // Missing parameters are -32602, a missing thing -32001: never a refusal, never a crash.
        if (e) {
          CHECK((*e)["code"] != -32003);
          CHECK((*e)["code"] != -32601);
          CHECK((*e)["code"] != -32603);
        }
        ++answered;
      }
    }
    for (std::size_t i = 0; i < refusals[id].size(); ++i) {
      const auto e = error_of(base + ".refused." + std::to_string(i));
      INFO(id << " called " << refusals[id][i].first << " " << refusals[id][i].second.dump());
      REQUIRE(e);
      CHECK((*e)["code"] == -32003);
    }
  }
  // The refusals keep the wording the handlers had before the router checked them.
  auto messages = [&](const std::string& id) {
    std::set<std::string> texts;
    for (std::size_t i = 0; i < refusals[id].size(); ++i)
      if (auto e = error_of(out + "." + stem_of(id) + ".refused." + std::to_string(i))) texts.insert((*e)["message"].get<std::string>());
    return texts;
  };
  const auto qa = messages("f1/qa");
  CHECK(qa.count("agent f1/qa cannot heartbeat for f1/supervisor") == 1);
  CHECK(qa.count("only an operator, the CEO or f1/supervisor may spawn a worker in f1; agent f1/qa may not") == 1);
  CHECK(qa.count("only a supervisor, the CEO or an operator may dispatch work") == 1);
  CHECK(messages("f1/supervisor").count("f1/supervisor may only dispatch into its own factory") == 1);

  // Nothing an agent was refused happened, and what it was allowed did no harm: the daemon
  // serves, the same processes run, nobody was stopped, the factory is still there.
  for (const auto& [id, pid] : pids) {
    INFO(id);
    CHECK(c.agent(id)["pid"] == pid);
    CHECK(c.agent(id)["status"] == "running");
    CHECK(c.agent(id)["desired"] == "running");
  }
  for (const char* type : {"agent.stopping", "agent.stopped", "agent.restarting", "factory.removed", "slot.freed",
                           "worker.spawned", "config.reloaded", "operations.stopping", "events.archived",
                           "projections.rebuilt", "alert.resolved"}) {
    INFO(type);
    CHECK(c.events_after(since, type).empty());
  }
  CHECK(c.result("factory.list")["factories"].size() == 1);
  std::cout << "  [figure] " << refused << " refusals and " << answered << " other answers to {} calls by "
            << agents.size() << " agents, as the access column said" << std::endl;
  c.root.stop();
}

TEST_CASE("docs/protocol.md names exactly the methods of the table, and its access table agrees", "[access]") {
  Running d;
  const json table = d.call("rpc.methods")["result"];
  d.root.stop();
  std::set<std::string> names;
  std::map<std::string, std::set<std::string>> by_access;
  for (const auto& m : table["methods"]) {
    names.insert(m["name"].get<std::string>());
    by_access[m["access"].get<std::string>()].insert(m["name"].get<std::string>());
  }
  const std::string file = std::string(VERMAS_SOURCE_DIR) + "/docs/protocol.md";
  const DocMethods doc = read_protocol_doc(read_file(file));

  std::set<std::string> undocumented, unknown;
  for (const auto& n : names)
    if (!doc.named.count(n)) undocumented.insert(n);
  for (const auto& n : doc.named)
    if (!names.count(n)) unknown.insert(n);
  {
    INFO("methods in the table but not in " << file << " §4: " << listed(undocumented));
    CHECK(undocumented.empty());
  }
  {
    INFO("methods in " << file << " §4 but not in the table: " << listed(unknown));
    CHECK(unknown.empty());
  }

  // Every restricted access value has its row, listing exactly its methods; `anyone` is the rest.
  for (const auto& [access, methods] : by_access) {
    if (access == "anyone") continue;
    INFO("access " << access << ": the table says " << listed(methods) << "; the docs say "
                   << (doc.by_access.count(access) ? listed(doc.by_access.at(access)) : "nothing"));
    CHECK(doc.by_access.count(access) == 1);
    if (doc.by_access.count(access)) CHECK(doc.by_access.at(access) == methods);
  }
  for (const auto& [access, methods] : doc.by_access) {
    INFO("the docs' access table has a row for " << access);
    CHECK(by_access.count(access) == 1);
  }
}

}  // namespace method_table_test
