#pragma once
// The method table, like tmux's cmd_table: each method is declared once (name, parameters,
// who may call it, a one-line summary) with its handler. Before any handler runs, the
// Router refuses callers the access column does not admit (-32003) and parameters the
// method does not take (-32602). Handlers run on the daemon's one io_context thread; they
// return the result object or throw rpc::Error. Slow work is awaited, never blocked on.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/jsonrpc.hpp"

namespace vermas {

class Connection;
class GroupCommit;

struct Call {
  Connection& conn;
  const rpc::Request& request;
  rpc::Params params;
  // The agent whose process tree the peer runs in; empty for operators and other tools.
  std::optional<std::string> agent;
  std::string actor() const { return agent ? *agent : "operator"; }
};

// Who may call a method. Operators (peers outside every agent's process tree) may call
// everything; the column restricts agents (spec §6: an agent acts for itself only; §4: it
// never changes its own status, budget or approvals).
enum class Access {
  anyone,         // every peer
  operator_only,  // never an agent
  agent_self,     // an agent only for itself: the parameter naming an agent, when given, is the caller
  factory_roles,  // an agent of one of the roles, in its own factory (the parameter) unless it is the CEO
  agent_scoped,   // rights depend on the work order's state: the domain checks them (see the summary)
};
// As rpc.methods spells it: anyone, operator, agent_self, factory_roles, agent_scoped.
const char* to_string(Access access);

// The access column of a method.
struct Who {
  Who(Access a = Access::anyone) : access(a) {}
  Access access;
  // agent_self: the parameter naming an agent; factory_roles: the one naming a factory. When
  // it is absent (or not a string) the router leaves it to the handler, which must require it.
  std::string param;
  std::vector<std::string> roles;  // factory_roles: ceo, supervisor, qa, worker
  // factory_roles: the -32003 messages, with {agent}, {factory} and {method} filled in; the
  // second for an agent of a listed role in another factory ("" = the first). "" = generic.
  std::string refusal;
  std::string refusal_other_factory;
};
// The column's values as the tables spell them (`using namespace access;`).
namespace access {
inline const Who anyone{Access::anyone};
inline const Who operator_only{Access::operator_only};
inline const Who agent_scoped{Access::agent_scoped};
Who agent_self(std::string param);
Who factory_roles(std::string param, std::vector<std::string> roles, std::string refusal = "",
                  std::string refusal_other_factory = "");
}  // namespace access

struct MethodSpec {
  std::string name;
  std::vector<std::string> params;  // every parameter it takes
  Who who;
  std::string summary;  // one line, for rpc.methods
};

// The access decision alone, without the daemon: throws rpc::Error (-32003, data {method,
// agent}) when `agent` (empty: an operator) may not call `spec` with these params.
void check_access(const MethodSpec& spec, const std::optional<std::string>& agent, const rpc::json& params);

class Router {
 public:
  using AsyncHandler = std::function<boost::asio::awaitable<rpc::json>(Call&)>;
  using SyncHandler = std::function<rpc::json(Call&)>;

  // A method declared twice, or an access column naming a parameter the method does not
  // take, is a programming error (std::logic_error).
  void add(MethodSpec spec, SyncHandler handler);
  void add_async(MethodSpec spec, AsyncHandler handler);
  // A method without a spec: any parameters, any caller, the handler checks everything.
  // Only for harnesses that wrap the daemon's table (fuzz/fuzz_dispatch.cpp).
  void add_async(const std::string& method, AsyncHandler handler);
  // Finds the agent a connection's peer belongs to (cached per connection by the caller).
  void set_identify(std::function<std::optional<std::string>(Connection&)> fn) { identify_ = std::move(fn); }
  // Answers wait for this group commit's sync of what was committed before them.
  void set_group_commit(GroupCommit* group_commit) { group_commit_ = group_commit; }
  GroupCommit* group_commit() const { return group_commit_; }
  bool has(const std::string& method) const { return entries_.count(method) != 0; }
  std::vector<std::string> methods() const;  // sorted
  const MethodSpec* spec(const std::string& method) const;
  // The table as rpc.methods answers it: {methods: [{name, params, access, param?, roles?,
  // summary}]}, sorted by name.
  rpc::json describe() const;

  // Always yields a response object (result or error), even for notifications.
  boost::asio::awaitable<rpc::json> dispatch(Connection& conn, const rpc::Request& request) const;

 private:
  struct Entry {
    MethodSpec spec;
    bool declared = true;  // false: added without a spec, nothing checked here
    SyncHandler sync;
    AsyncHandler async;
  };
  void insert(Entry entry);

  std::map<std::string, Entry> entries_;
  std::function<std::optional<std::string>(Connection&)> identify_;
  GroupCommit* group_commit_ = nullptr;
};

}  // namespace vermas
