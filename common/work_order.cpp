#include "common/work_order.hpp"

#include <algorithm>

namespace vermas::wo {

namespace {

constexpr std::size_t index(Status s) { return static_cast<std::size_t>(s); }

// Rows: from; columns: to. The only place the rules live.
constexpr bool kAllowed[9][9] = {
    //            open assig inpro revie needs block faild done  cancl
    /* open     */ {0, 1, 0, 0, 0, 0, 0, 0, 1},
    /* assigned */ {1, 0, 1, 0, 0, 1, 0, 0, 1},
    /* in_prog  */ {0, 1, 0, 1, 1, 1, 1, 0, 1},
    /* review   */ {0, 0, 1, 0, 1, 1, 1, 1, 0},
    /* needs_ap */ {0, 1, 1, 1, 0, 0, 0, 0, 1},
    /* blocked  */ {1, 1, 1, 0, 0, 0, 0, 0, 1},
    /* failed   */ {1, 0, 0, 0, 0, 0, 0, 0, 1},
    /* done     */ {0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* canceled */ {0, 0, 0, 0, 0, 0, 0, 0, 0},
};

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

const char* to_string(Status s) { return kStatusNames[index(s)].data(); }

std::optional<Status> parse_status(std::string_view text) {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i)
    if (kStatusNames[i] == text) return kStatuses[i];
  return std::nullopt;
}

bool valid_type(std::string_view text) { return std::find(kTypes.begin(), kTypes.end(), text) != kTypes.end(); }

bool transition_allowed(Status from, Status to) { return kAllowed[index(from)][index(to)]; }

std::vector<Status> allowed_from(Status from) {
  std::vector<Status> out;
  for (Status to : kStatuses)
    if (transition_allowed(from, to)) out.push_back(to);
  return out;
}

bool terminal(Status s) { return allowed_from(s).empty(); }

bool held_by_worker(Status s) {
  return s == Status::assigned || s == Status::in_progress || s == Status::blocked || s == Status::needs_approval;
}

bool valid_prefix(std::string_view p) {
  return !p.empty() && p.size() <= 16 && std::all_of(p.begin(), p.end(), lower_alnum);
}

bool valid_id(std::string_view id) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos) return false;
  auto tail = id.substr(dash + 1);
  return valid_prefix(id.substr(0, dash)) && tail.size() >= 6 && tail.size() <= 32 &&
         std::all_of(tail.begin(), tail.end(), lower_alnum);
}

std::string make_id(const std::string& prefix, unsigned long long bits, int length) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = prefix + "-";
  for (int i = 0; i < length; ++i) {
    id += kAlphabet[bits % 36];
    bits /= 36;
  }
  return id;
}

nlohmann::json to_json(const WorkOrder& w) {
  auto opt = [](const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return nlohmann::json{{"id", w.id},
                        {"title", w.title},
                        {"description", w.description},
                        {"type", w.type},
                        {"priority", w.priority},
                        {"status", w.status_text},
                        {"factory", opt(w.factory)},
                        {"assignee", opt(w.assignee)},
                        {"created_at", w.created_at},
                        {"updated_at", w.updated_at},
                        {"artifacts", w.artifacts},
                        {"transitions", w.transitions},
                        {"review_cycles", w.review_cycles}};
}

std::optional<WorkOrder> from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  auto text = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto opt = [&](const char* k) -> std::optional<std::string> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto num = [&](const char* k, std::int64_t fallback) {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
  };
  WorkOrder w;
  w.id = text("id");
  if (w.id.empty()) return std::nullopt;
  w.title = text("title");
  w.description = text("description");
  w.type = text("type");
  w.priority = num("priority", kDefaultPriority);
  w.status_text = text("status");
  w.factory = opt("factory");
  w.assignee = opt("assignee");
  w.created_at = text("created_at");
  w.updated_at = text("updated_at");
  if (auto it = j.find("artifacts"); it != j.end()) w.artifacts = *it;
  w.transitions = num("transitions", 0);
  w.review_cycles = num("review_cycles", 0);
  return w;
}

}  // namespace vermas::wo
