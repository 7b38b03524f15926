#include "tests/catch.hpp"

#include "common/jsonrpc.hpp"

using namespace vermas::rpc;

namespace {
const json& only_error(const Decoded& d) {
  REQUIRE(d.error.has_value());
  return (*d.error)["error"];
}
const Request& only_request(const Decoded& d) {
  REQUIRE(!d.error);
  REQUIRE(d.items.size() == 1);
  REQUIRE(std::holds_alternative<Request>(d.items[0]));
  return std::get<Request>(d.items[0]);
}
int item_error_code(const Item& item) {
  REQUIRE(std::holds_alternative<json>(item));
  return std::get<json>(item)["error"]["code"].get<int>();
}
}  // namespace

TEST_CASE("a request is decoded with its id, method and named params") {
  auto d = decode_line(R"({"jsonrpc":"2.0","id":7,"method":"ping","params":{"a":1}})");
  const auto& r = only_request(d);
  CHECK(r.id == 7);
  CHECK(!r.notification);
  CHECK(r.method == "ping");
  CHECK(r.params["a"] == 1);
  CHECK(!d.batch);
}

TEST_CASE("a message without id is a notification, string ids are kept") {
  CHECK(only_request(decode_line(R"({"jsonrpc":"2.0","method":"ping"})")).notification);
  CHECK(only_request(decode_line(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})")).id == "abc");
  auto r = only_request(decode_line(R"({"jsonrpc":"2.0","id":null,"method":"ping"})"));
  CHECK(!r.notification);  // an explicit null id still expects an answer
}

TEST_CASE("invalid JSON is a parse error with a null id") {
  auto d = decode_line(R"({"jsonrpc":"2.0","id":1,"method":)");
  CHECK(only_error(d)["code"] == code::parse_error);
  CHECK((*d.error)["id"].is_null());
}

TEST_CASE("invalid UTF-8 is a parse error, not a crash") {
  std::string line = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\xfe\"}";
  CHECK(only_error(decode_line(line))["code"] == code::parse_error);
  std::string overlong = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}";
  CHECK(only_error(decode_line(overlong))["code"] == code::parse_error);
}

TEST_CASE("a number beyond a double's range is a parse error, not an exception") {
  // nlohmann throws out_of_range (406) for these, which once escaped the reader and wedged
  // the connection for good.
  for (std::string number : {std::string("1e400"), std::string("-1e400"), "1" + std::string(400, '0'),
                             std::string("1") + std::string(400, '9') + ".5e10"}) {
    INFO(number.substr(0, 20));
    CHECK(only_error(decode_line(R"({"jsonrpc":"2.0","id":)" + number + R"(,"method":"ping"})"))["code"] ==
          code::parse_error);
    CHECK(only_error(decode_line(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"limit":)" + number + "}}"))
              ["code"] == code::parse_error);
    CHECK(only_error(decode_line("[" + number + "]"))["code"] == code::parse_error);
  }
  // Large but representable numbers are numbers.
  CHECK(only_request(decode_line(R"({"jsonrpc":"2.0","id":1e300,"method":"ping"})")).id.is_number_float());
  CHECK(only_request(decode_line(R"({"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"})")).id.is_number());
}

TEST_CASE("a NUL byte anywhere in a line makes the whole line a parse error") {
  using namespace std::string_literals;
  const std::string before = R"({"jsonrpc":"2.0","id":1,"method":"wo.create","params":{"title":"before"}})";
  const std::string after = R"({"jsonrpc":"2.0","id":2,"method":"wo.create","params":{"title":"after"}})";
  auto d = decode_line(before + "\0"s + after);
  CHECK(only_error(d)["code"] == code::parse_error);
  CHECK(d.items.empty());  // nothing of the line is executed
  CHECK(only_error(decode_line(before + "\0"s))["code"] == code::parse_error);
  CHECK(only_error(decode_line("\0"s + before))["code"] == code::parse_error);
  CHECK(only_error(decode_line(R"({"jsonrpc":"2.0","id":1,"method":"pi)" + "\0"s + R"(ng"})"))["code"] ==
        code::parse_error);
}

TEST_CASE("structurally wrong requests are invalid requests") {
  CHECK(item_error_code(decode_line(R"({"id":1,"method":"ping"})").items[0]) == code::invalid_request);
  CHECK(item_error_code(decode_line(R"({"jsonrpc":"1.0","id":1,"method":"ping"})").items[0]) == code::invalid_request);
  CHECK(item_error_code(decode_line(R"({"jsonrpc":"2.0","id":1,"method":5})").items[0]) == code::invalid_request);
  CHECK(item_error_code(decode_line(R"({"jsonrpc":"2.0","id":{},"method":"x"})").items[0]) == code::invalid_request);
  CHECK(item_error_code(decode_line(R"(42)").items[0]) == code::invalid_request);
  SECTION("positional params are refused: every method takes named params") {
    auto d = decode_line(R"({"jsonrpc":"2.0","id":3,"method":"x","params":[1]})");
    const auto& err = std::get<json>(d.items[0]);
    CHECK(err["error"]["code"] == code::invalid_params);
    CHECK(err["id"] == 3);
  }
}

TEST_CASE("batches decode item by item, an empty batch is invalid") {
  auto d = decode_line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},7])");
  REQUIRE(d.batch);
  REQUIRE(d.items.size() == 3);
  CHECK(std::get<Request>(d.items[0]).method == "a");
  CHECK(std::get<Request>(d.items[1]).notification);
  CHECK(item_error_code(d.items[2]) == code::invalid_request);
  CHECK(only_error(decode_line("[]"))["code"] == code::invalid_request);
}

TEST_CASE("nesting is measured without recursion and refused past 64") {
  CHECK(nesting_depth("[[[]]]", 64) == 3);
  CHECK(nesting_depth(R"({"a":"[[[[[["})", 64) == 1);  // brackets in strings do not count
  CHECK(nesting_depth(R"({"a":"\"[[["})", 64) == 1);   // nor after an escaped quote
  std::string ok = std::string(64, '[') + std::string(64, ']');
  CHECK(nesting_depth(ok, 64) == 64);
  std::string deep(100000, '[');  // would overflow a recursive parser's stack
  CHECK(nesting_depth(deep, 64) == 65);
  CHECK(only_error(decode_line(deep))["code"] == code::too_large);
  auto d = decode_line(R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"a":)" + ok + "}}");
  CHECK(only_error(d)["code"] == code::too_large);  // 66 levels in all
}

TEST_CASE("a line over 1 MiB is too large") {
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"x","params":{"s":")" + std::string(kMaxLineBytes, 'a') + "\"}}";
  CHECK(only_error(decode_line(big))["code"] == code::too_large);
}

TEST_CASE("encode is one line and survives invalid UTF-8") {
  std::string s = encode(make_result(1, json{{"s", std::string("a\nb\xff")}}));
  CHECK(s.back() == '\n');
  CHECK(s.find('\n') == s.size() - 1);
  auto back = json::parse(s);
  CHECK(back["result"]["s"].get<std::string>().substr(0, 3) == "a\nb");
}

TEST_CASE("errors carry code, message and optional data") {
  auto e = make_error(5, code::not_found, "no such agent", json{{"field", "id"}});
  CHECK(e["id"] == 5);
  CHECK(e["error"]["code"] == -32001);
  CHECK(e["error"]["data"]["field"] == "id");
  CHECK(!make_error(5, code::conflict, "x").at("error").contains("data"));
}

TEST_CASE("Params: typed access with field names in errors") {
  json p = {{"name", "a"}, {"n", 5}, {"f", 1.5}, {"b", true}, {"list", {"x", "y"}}, {"bad", {1}}};
  Params params(p);
  CHECK(params.required_str("name") == "a");
  CHECK(params.integer("n", 0, 10) == 5);
  CHECK(params.number("f", 0, 10) == 1.5);
  CHECK(params.boolean("b") == true);
  CHECK(params.str_list("list")->size() == 2);
  CHECK(!params.str("missing"));
  auto field_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      CHECK(e.code() == code::invalid_params);
      return e.data()["field"].get<std::string>();
    }
    return std::string("no error");
  };
  CHECK(field_of([&] { params.integer("n", 6, 10); }) == "n");
  CHECK(field_of([&] { params.integer("f", 0, 10); }) == "f");
  CHECK(field_of([&] { params.str("n"); }) == "n");
  CHECK(field_of([&] { params.required_str("missing"); }) == "missing");
  CHECK(field_of([&] { params.str_list("bad"); }) == "bad");
  CHECK(field_of([&] { params.allow_only({"name"}); }) != "no error");
  CHECK_NOTHROW(params.allow_only({"name", "n", "f", "b", "list", "bad"}));
}
