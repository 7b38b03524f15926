// The method table's access column and parameter lists, enforced by the Router before any
// handler runs: the pure rule (check_access) with small fake specs, then Router::dispatch
// on a connection over a socketpair, to see that a refused call never reaches its handler.
#include "tests/catch.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/rpc/connection.hpp"
#include "daemon/rpc/errors.hpp"
#include "daemon/rpc/router.hpp"
#include "tests/unit/helpers.hpp"

// One namespace for everything here: the unit tests build as unity batches.
namespace router_test {

using vermas::MethodSpec;
using vermas::rpc::json;
namespace code = vermas::rpc::code;
using namespace vermas::access;

MethodSpec spec_of(const std::string& name, std::vector<std::string> params, vermas::Who who) {
  return MethodSpec{name, std::move(params), std::move(who), "a test method"};
}

// The -32003 error check_access throws, or nullopt when it admits the call.
std::optional<vermas::rpc::Error> refusal(const MethodSpec& spec, const std::optional<std::string>& agent,
                                          const json& params = json::object()) {
  try {
    vermas::check_access(spec, agent, params);
  } catch (const vermas::rpc::Error& e) {
    return e;
  }
  return std::nullopt;
}

bool admitted(const MethodSpec& spec, const std::optional<std::string>& agent, const json& params = json::object()) {
  return !refusal(spec, agent, params).has_value();
}


TEST_CASE("router access: anyone and agent_scoped admit operators and every agent") {
  for (const auto& spec : {spec_of("x.read", {"id"}, anyone), spec_of("wo.thing", {"id"}, agent_scoped)}) {
    INFO(spec.name);
    CHECK(admitted(spec, std::nullopt));
    for (const char* agent : {"ceo", "f/supervisor", "f/qa", "f/workers/slot3", "odd"})
      CHECK(admitted(spec, std::string(agent), {{"id", "g/supervisor"}}));
  }
}

TEST_CASE("router access: an operator method refuses every agent, with the method and agent in data") {
  const auto spec = spec_of("x.stop", {"id"}, operator_only);
  CHECK(admitted(spec, std::nullopt, {{"id", "f/qa"}}));
  for (const char* agent : {"ceo", "f/supervisor", "f/qa", "f/workers/slot0"}) {
    auto e = refusal(spec, std::string(agent), {{"id", agent}});  // itself included
    REQUIRE(e);
    CHECK(e->code() == code::permission_denied);
    CHECK(std::string(e->what()) == "x.stop is an operator method; agent " + std::string(agent) + " may not call it");
    CHECK(e->data() == json{{"method", "x.stop"}, {"agent", agent}});
  }
}

TEST_CASE("router access: agent_self lets an agent act for itself only") {
  const auto spec = spec_of("agent.heartbeat", {"id", "activity"}, agent_self("id"));
  CHECK(admitted(spec, std::string("f/qa")));                               // id defaults to the caller
  CHECK(admitted(spec, std::string("f/qa"), {{"id", "f/qa"}}));             // itself
  CHECK(admitted(spec, std::string("f/qa"), {{"id", nullptr}}));            // null is absent
  CHECK(admitted(spec, std::string("f/qa"), {{"id", 7}}));                  // the handler's -32602
  CHECK(admitted(spec, std::nullopt, {{"id", "f/supervisor"}}));            // an operator names anyone
  auto e = refusal(spec, std::string("f/qa"), {{"id", "f/supervisor"}});
  REQUIRE(e);
  CHECK(e->code() == code::permission_denied);
  CHECK(std::string(e->what()) == "agent f/qa cannot heartbeat for f/supervisor");
  CHECK(e->data() == json{{"method", "agent.heartbeat"}, {"agent", "f/qa"}});
}

TEST_CASE("router access: factory_roles checks the caller's role, then its factory unless it is the CEO") {
  const auto spec = spec_of("worker.spawn", {"factory"},
                            factory_roles("factory", {"ceo", "supervisor"},
                                          "only an operator, the CEO or {factory}/supervisor may spawn a worker in "
                                          "{factory}; agent {agent} may not"));
  CHECK(admitted(spec, std::nullopt, {{"factory", "f"}}));
  CHECK(admitted(spec, std::string("f/supervisor"), {{"factory", "f"}}));
  CHECK(admitted(spec, std::string("ceo"), {{"factory", "f"}}));
  CHECK(admitted(spec, std::string("ceo"), {{"factory", "g"}}));
  // Without the factory (or not a string) the handler refuses it: -32602, not this rule.
  CHECK(admitted(spec, std::string("f/supervisor")));
  CHECK(admitted(spec, std::string("f/supervisor"), {{"factory", 3}}));

  auto other = refusal(spec, std::string("g/supervisor"), {{"factory", "f"}});
  REQUIRE(other);
  CHECK(other->code() == code::permission_denied);
  CHECK(std::string(other->what()) == "only an operator, the CEO or f/supervisor may spawn a worker in f; agent "
                                      "g/supervisor may not");
  CHECK(other->data() == json{{"method", "worker.spawn"}, {"agent", "g/supervisor"}});
  for (const char* agent : {"f/qa", "f/workers/slot0", "f/workers/slotx", "f/other", "f", "/supervisor"}) {
    INFO(agent);
    auto e = refusal(spec, std::string(agent), {{"factory", "f"}});
    REQUIRE(e);
    CHECK(e->code() == code::permission_denied);
  }
  // A role that may not call it is refused whatever the params; the message then names the
  // caller's own factory.
  auto qa = refusal(spec, std::string("f/qa"));
  REQUIRE(qa);
  CHECK(std::string(qa->what()) == "only an operator, the CEO or f/supervisor may spawn a worker in f; agent f/qa may not");
}

TEST_CASE("router access: factory_roles with a second refusal for another factory, and the generic wording") {
  const auto dispatch = spec_of("dispatch", {"work_order", "factory"},
                                factory_roles("factory", {"ceo", "supervisor"},
                                              "only a supervisor, the CEO or an operator may dispatch work",
                                              "{agent} may only dispatch into its own factory"));
  auto role = refusal(dispatch, std::string("f/workers/slot1"), {{"factory", "f"}});
  REQUIRE(role);
  CHECK(std::string(role->what()) == "only a supervisor, the CEO or an operator may dispatch work");
  auto place = refusal(dispatch, std::string("g/supervisor"), {{"factory", "f"}});
  REQUIRE(place);
  CHECK(std::string(place->what()) == "g/supervisor may only dispatch into its own factory");

  const auto plain = spec_of("x.do", {"factory"}, factory_roles("factory", {"qa", "worker"}));
  CHECK(admitted(plain, std::string("f/qa"), {{"factory", "f"}}));
  CHECK(admitted(plain, std::string("f/workers/slot12"), {{"factory", "f"}}));
  auto e = refusal(plain, std::string("f/supervisor"), {{"factory", "f"}});
  REQUIRE(e);
  CHECK(std::string(e->what()) == "x.do is for an operator or the qa or worker of f; agent f/supervisor may not call it");
  CHECK(refusal(plain, std::string("ceo"), {{"factory", "f"}}));  // not a listed role
  CHECK(refusal(plain, std::string("g/qa"), {{"factory", "f"}}));
}

// A Router with fake methods, driven through dispatch() on one end of a socketpair (the
// connection is never started: dispatch only needs it to exist).
struct RouterRig {
  boost::asio::io_context io;
  vermas::Router router;
  std::shared_ptr<vermas::Connection> conn;
  std::optional<std::string> caller;  // who the peer is, as identify_caller would say
  int handled = 0;

  RouterRig() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ::close(sv[1]);
    vermas::Connection::Socket socket(io, boost::asio::local::stream_protocol(), sv[0]);
    conn = std::make_shared<vermas::Connection>(std::move(socket), vermas::PeerCred{::getpid(), ::getuid(), ::getgid()},
                                                1, router, std::chrono::milliseconds(1000));
    router.set_identify([this](vermas::Connection&) { return caller; });
    router.add(spec_of("t.ping", {}, anyone), [this](vermas::Call&) -> json {
      ++handled;
      return json::object();
    });
    router.add(spec_of("t.stop", {"id"}, operator_only), [this](vermas::Call&) -> json {
      ++handled;
      return json::object();
    });
    router.add_async(spec_of("t.beat", {"id", "activity"}, agent_self("id")),
                     [this](vermas::Call& c) -> boost::asio::awaitable<json> {
                       ++handled;
                       co_return json{{"for", c.params.str("id").value_or(c.actor())}};
                     });
  }

  json call(const std::string& method, json params = json::object()) {
    vermas::rpc::Request request;
    request.id = 1;
    request.method = method;
    request.params = std::move(params);
    std::optional<json> out;
    boost::asio::co_spawn(io, router.dispatch(*conn, request), [&](std::exception_ptr e, json r) {
      REQUIRE(!e);
      out = std::move(r);
    });
    REQUIRE(vermas::test::run_until(io, [&] { return out.has_value(); }));
    return *out;
  }
};

TEST_CASE("router dispatch: refusals come before the handler, and unknown parameters are -32602 as allow_only said") {
  RouterRig rig;
  CHECK(rig.call("t.ping")["result"] == json::object());
  CHECK(rig.handled == 1);

  auto unknown = rig.call("t.ping", {{"x", 1}});
  CHECK(unknown["error"]["code"] == code::invalid_params);
  CHECK(unknown["error"]["message"] == "unknown parameter 'x' (takes none)");
  CHECK(unknown["error"]["data"] == json{{"field", "x"}});
  auto listed = rig.call("t.beat", {{"id", "f/qa"}, {"when", "now"}});
  CHECK(listed["error"]["message"] == "unknown parameter 'when' (takes: id, activity)");
  CHECK(listed["error"]["data"] == json{{"field", "when"}});
  CHECK(rig.handled == 1);

  rig.caller = "f/qa";
  auto stop = rig.call("t.stop", {{"id", "f/qa"}});
  CHECK(stop["error"]["code"] == code::permission_denied);
  CHECK(stop["error"]["data"] == json{{"method", "t.stop"}, {"agent", "f/qa"}});
  // The caller is checked before the parameters: nothing about them is told to an agent
  // that may not call the method.
  CHECK(rig.call("t.stop", {{"bogus", true}})["error"]["code"] == code::permission_denied);
  CHECK(rig.call("t.beat", {{"id", "f/supervisor"}})["error"]["code"] == code::permission_denied);
  CHECK(rig.handled == 1);
  CHECK(rig.call("t.beat")["result"]["for"] == "f/qa");
  CHECK(rig.call("t.ping")["result"] == json::object());
  CHECK(rig.handled == 3);

  rig.caller.reset();  // an operator
  CHECK(rig.call("t.stop", {{"id", "f/qa"}})["result"] == json::object());
  CHECK(rig.call("t.beat", {{"id", "f/supervisor"}})["result"]["for"] == "f/supervisor");
  CHECK(rig.call("t.nope")["error"]["code"] == code::method_not_found);
  CHECK(rig.handled == 5);
}

TEST_CASE("router table: rpc.methods describes it sorted with the access column, and bad tables do not load") {
  RouterRig rig;
  rig.router.add(spec_of("t.spawn", {"factory"}, factory_roles("factory", {"ceo", "supervisor"})),
                 [](vermas::Call&) { return json::object(); });
  const json d = rig.router.describe();
  std::vector<std::string> names;
  for (const auto& m : d["methods"]) names.push_back(m["name"].get<std::string>());
  CHECK(names == std::vector<std::string>{"t.beat", "t.ping", "t.spawn", "t.stop"});
  CHECK(d["methods"][0] == json{{"name", "t.beat"},
                                {"params", {"id", "activity"}},
                                {"access", "agent_self"},
                                {"param", "id"},
                                {"summary", "a test method"}});
  CHECK(d["methods"][1]["access"] == "anyone");
  CHECK(d["methods"][1]["params"] == json::array());
  CHECK(!d["methods"][1].contains("roles"));
  CHECK(d["methods"][2]["roles"] == json{"ceo", "supervisor"});
  CHECK(d["methods"][3]["access"] == "operator");

  auto noop = [](vermas::Call&) { return json::object(); };
  CHECK_THROWS_AS(rig.router.add(spec_of("t.ping", {}, anyone), noop), std::logic_error);
  CHECK_THROWS_AS(rig.router.add(spec_of("t.self", {"activity"}, agent_self("id")), noop), std::logic_error);
  CHECK_THROWS_AS(rig.router.add(spec_of("t.roles", {"factory"}, factory_roles("factory", {})), noop),
                  std::logic_error);
  CHECK(!rig.router.has("t.self"));
}

}  // namespace router_test

TEST_CASE("the core's error kinds map to JSON-RPC codes at the edge, and only there", "[router]") {
  using vermas::Errc;
  namespace code = vermas::rpc::code;
  const std::pair<Errc, int> table[] = {
      {Errc::invalid_argument, code::invalid_params}, {Errc::not_found, code::not_found},
      {Errc::conflict, code::conflict},               {Errc::permission_denied, code::permission_denied},
      {Errc::budget_exceeded, code::budget_exceeded}, {Errc::unavailable, code::unavailable},
      {Errc::too_large, code::too_large},             {Errc::busy, code::unavailable},
      {Errc::storage_full, code::unavailable},        {Errc::corrupt, code::internal_error},
      {Errc::constraint, code::internal_error},       {Errc::io, code::internal_error},
      {Errc::internal, code::internal_error},
  };
  for (const auto& [kind, rpc_code] : table) {
    INFO(vermas::to_string(kind));
    CHECK(vermas::rpc::to_rpc_code(kind) == rpc_code);
  }
  // Only a database that refused for now is worth retrying as such.
  CHECK(vermas::Error(Errc::busy, "x").transient_store_failure());
  CHECK(vermas::Error(Errc::storage_full, "x").transient_store_failure());
  CHECK_FALSE(vermas::Error(Errc::corrupt, "x").transient_store_failure());
}
