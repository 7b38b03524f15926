#include "daemon/rpc/router.hpp"
#include "daemon/rpc/errors.hpp"
#include "common/json.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "daemon/store/store.hpp"

namespace vermas {

namespace {


// An agent id's role and factory: ceo | <f>/supervisor | <f>/qa | <f>/workers/slot<N>.
// Anything else has no role, so no role-restricted method admits it.
struct CallerParts {
  std::string role;
  std::string factory;
};

CallerParts caller_parts(const std::string& id) {
  if (id == "ceo") return {"ceo", ""};
  const auto slash = id.find('/');
  if (slash == std::string::npos || slash == 0) return {};
  std::string factory = id.substr(0, slash);
  const std::string rest = id.substr(slash + 1);
  if (rest == "supervisor" || rest == "qa") return {rest, factory};
  const std::string slot = "workers/slot";
  if (rest.size() > slot.size() && rest.compare(0, slot.size(), slot) == 0 &&
      rest.find_first_not_of("0123456789", slot.size()) == std::string::npos)
    return {"worker", factory};
  return {};
}

std::string fill_refusal(std::string text, const std::string& method, const std::string& agent,
                         const std::string& factory) {
  const std::pair<std::string, const std::string*> fields[] = {
      {"{method}", &method}, {"{agent}", &agent}, {"{factory}", &factory}};
  for (const auto& [key, value] : fields)
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + value->size()))
      text.replace(at, key.size(), *value);
  return text;
}

std::string generic_role_refusal(const Who& who) {
  std::string roles;
  for (std::size_t i = 0; i < who.roles.size(); ++i)
    roles += (i == 0 ? "" : i + 1 == who.roles.size() ? " or " : ", ") + who.roles[i];
  return "{method} is for an operator or the " + roles + " of {factory}; agent {agent} may not call it";
}

[[noreturn]] void refuse_call(const MethodSpec& spec, const std::string& agent, const std::string& message) {
  throw rpc::Error(rpc::code::permission_denied, message, json{{"method", spec.name}, {"agent", agent}});
}

}  // namespace

const char* to_string(Access access) {
  switch (access) {
    case Access::anyone: return "anyone";
    case Access::operator_only: return "operator";
    case Access::agent_self: return "agent_self";
    case Access::factory_roles: return "factory_roles";
    case Access::agent_scoped: return "agent_scoped";
  }
  return "?";
}

namespace access {

Who agent_self(std::string param) {
  Who w(Access::agent_self);
  w.param = std::move(param);
  return w;
}

Who factory_roles(std::string param, std::vector<std::string> roles, std::string refusal,
                  std::string refusal_other_factory) {
  Who w(Access::factory_roles);
  w.param = std::move(param);
  w.roles = std::move(roles);
  w.refusal = std::move(refusal);
  w.refusal_other_factory = std::move(refusal_other_factory);
  return w;
}

}  // namespace access

void check_access(const MethodSpec& spec, const std::optional<std::string>& agent, const json& params) {
  if (!agent) return;  // operators may call everything
  const Who& who = spec.who;
  // The parameter the column names, when given as a string; a wrong type is the handler's -32602.
  auto named = [&]() -> std::optional<std::string> {
    auto it = params.find(who.param);
    if (who.param.empty() || it == params.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  switch (who.access) {
    case Access::anyone:
    case Access::agent_scoped:
      return;
    case Access::operator_only:
      refuse_call(spec, *agent, spec.name + " is an operator method; agent " + *agent + " may not call it");
    case Access::agent_self: {
      auto id = named();
      if (id && *id != *agent) {
        const auto dot = spec.name.rfind('.');
        const std::string verb = spec.name.substr(dot == std::string::npos ? 0 : dot + 1);
        refuse_call(spec, *agent, "agent " + *agent + " cannot " + verb + " for " + *id);
      }
      return;
    }
    case Access::factory_roles: {
      const CallerParts me = caller_parts(*agent);
      const auto factory = named();
      // Without the parameter the message names the caller's own factory; the handler then
      // refuses the call for want of it anyway.
      const std::string where = factory ? *factory : me.factory;
      const std::string refusal = who.refusal.empty() ? generic_role_refusal(who) : who.refusal;
      if (std::find(who.roles.begin(), who.roles.end(), me.role) == who.roles.end())
        refuse_call(spec, *agent, fill_refusal(refusal, spec.name, *agent, where));
      if (me.role != "ceo" && factory && *factory != me.factory) {
        const std::string& text = who.refusal_other_factory.empty() ? refusal : who.refusal_other_factory;
        refuse_call(spec, *agent, fill_refusal(text, spec.name, *agent, where));
      }
      return;
    }
  }
}

void Router::insert(Entry entry) {
  const MethodSpec& s = entry.spec;
  if (entries_.count(s.name)) throw std::logic_error("method declared twice: " + s.name);
  const bool names_param = s.who.access == Access::agent_self || s.who.access == Access::factory_roles;
  if (entry.declared && names_param && std::find(s.params.begin(), s.params.end(), s.who.param) == s.params.end())
    throw std::logic_error(s.name + ": its access column names '" + s.who.param + "', which is not a parameter");
  if (s.who.access == Access::factory_roles && s.who.roles.empty())
    throw std::logic_error(s.name + ": factory_roles without roles");
  const std::string name = s.name;
  entries_.emplace(name, std::move(entry));
}

void Router::add(MethodSpec spec, SyncHandler handler) { insert(Entry{std::move(spec), true, std::move(handler), nullptr}); }

void Router::add_async(MethodSpec spec, AsyncHandler handler) {
  insert(Entry{std::move(spec), true, nullptr, std::move(handler)});
}

void Router::add_async(const std::string& method, AsyncHandler handler) {
  MethodSpec spec;
  spec.name = method;
  insert(Entry{std::move(spec), false, nullptr, std::move(handler)});
}

std::vector<std::string> Router::methods() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : entries_) out.push_back(name);
  return out;
}

const MethodSpec* Router::spec(const std::string& method) const {
  auto it = entries_.find(method);
  return it == entries_.end() ? nullptr : &it->second.spec;
}

json Router::describe() const {
  json list = json::array();
  for (const auto& [name, e] : entries_) {
    const Who& who = e.spec.who;
    json m = {{"name", name}, {"access", to_string(who.access)}, {"summary", e.spec.summary}};
    m["params"] = e.declared ? json(e.spec.params) : json(nullptr);
    if (!who.param.empty()) m["param"] = who.param;
    if (!who.roles.empty()) m["roles"] = who.roles;
    list.push_back(std::move(m));
  }
  return {{"methods", std::move(list)}};
}

boost::asio::awaitable<json> Router::dispatch(Connection& conn, const rpc::Request& request) const {
  auto it = entries_.find(request.method);
  if (it == entries_.end())
    co_return rpc::make_error(request.id, rpc::code::method_not_found,
                              "method not found: " + request.method, json{{"method", request.method}});
  const Entry& entry = it->second;
  Call call{conn, request, rpc::Params(request.params), std::nullopt};
  if (identify_) call.agent = identify_(conn);
  // Errors become values first: co_await is not allowed inside a catch block. And no
  // co_await inside a conditional expression either: GCC 12 miscompiles that.
  json response;
  try {
    // The caller first: an agent learns nothing about the parameters of what it may not call.
    if (entry.declared) {
      check_access(entry.spec, call.agent, request.params);
      call.params.allow_only(entry.spec.params);
    }
    json result;
    if (entry.sync) {
      result = entry.sync(call);
    } else {
      result = co_await entry.async(call);
    }
    response = rpc::make_result(request.id, std::move(result));
  } catch (const rpc::Error& e) {
    response = rpc::make_error(request.id, e.code(), e.what(), e.data());
  } catch (const Error& e) {
    // The core's one error type, its kind mapped to a code here and nowhere else.
    const int code = rpc::to_rpc_code(e.code());
    if (code == rpc::code::internal_error || e.transient_store_failure())
      spdlog::error("{}: {} ({})", request.method, e.what(), to_string(e.code()));
    response = rpc::make_error(request.id, code, e.what(), e.details());
  } catch (const std::exception& e) {
    spdlog::error("{}: internal error: {}", request.method, e.what());
    response = rpc::make_error(request.id, rpc::code::internal_error, std::string("internal error: ") + e.what());
  }
  co_return response;
}

}  // namespace vermas
