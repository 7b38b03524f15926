#include "daemon/store/audit.hpp"

#include <algorithm>
#include <fstream>
#include <vector>

namespace vermas::audit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One archive file: each line an event, in id order.
class ArchiveFile {
 public:
  explicit ArchiveFile(const fs::path& path) : in_(path, std::ios::binary) {
    if (!in_) return;
    in_.seekg(0, std::ios::end);
    size_ = in_.tellg();
  }
  bool ok() const { return static_cast<bool>(in_) && size_ > 0; }

  // The offset of the first line that begins at or after `at`.
  std::streamoff line_at_or_after(std::streamoff at) {
    if (at <= 0) return 0;
    in_.clear();
    in_.seekg(at - 1);
    std::string skipped;
    std::getline(in_, skipped);  // the rest of the line `at - 1` is in
    return in_ ? static_cast<std::streamoff>(in_.tellg()) : size_;
  }
  std::optional<json> event_at(std::streamoff at) {
    if (at >= size_) return std::nullopt;
    in_.clear();
    in_.seekg(at);
    std::string line;
    if (!std::getline(in_, line)) return std::nullopt;
    json e = json::parse(line, nullptr, false);
    if (!e.is_object()) return json::object();  // a torn line: no id, skipped by the reader
    return e;
  }
  static std::int64_t id_of(const json& e) {
    auto it = e.find("id");
    return it != e.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  }
  // The first line whose event id is above `after_id` (ids grow along the file).
  std::streamoff first_after(std::int64_t after_id) {
    std::streamoff lo = 0, hi = size_;
    while (lo < hi) {
      const std::streamoff mid = lo + (hi - lo) / 2;
      const std::streamoff line = line_at_or_after(mid);
      auto e = line < size_ ? event_at(line) : std::nullopt;
      if (!e || id_of(*e) > after_id) hi = mid;
      else lo = mid + 1;
    }
    return line_at_or_after(lo);
  }
  // Events from `at` on, passed to `take` until it returns false.
  template <class F>
  void read_from(std::streamoff at, F take) {
    in_.clear();
    in_.seekg(at);
    std::string line;
    while (std::getline(in_, line)) {
      json e = json::parse(line, nullptr, false);
      if (!e.is_object() || !take(e)) return;
    }
  }

 private:
  std::ifstream in_;
  std::streamoff size_ = 0;
};

// The archive's files in order: events.jsonl (partition_by_day = false) holds the oldest
// days together; events-YYYY-MM-DD.jsonl one day each.
std::vector<fs::path> archive_files(const fs::path& dir, const std::string& since, const std::string& until) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "events.jsonl") {
      out.push_back(entry.path());
    } else if (name.size() == 23 && name.rfind("events-", 0) == 0 && name.substr(17) == ".jsonl") {
      const std::string day = name.substr(7, 10);
      if (day < since.substr(0, 10) || day > until.substr(0, 10)) continue;  // a day outside the range
      out.push_back(entry.path());
    }
  }
  // "events-..." sorts before "events.jsonl" ('-' < '.'), but the single file holds older
  // events only when nothing is partitioned: order it first.
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    const bool a_single = a.filename() == "events.jsonl", b_single = b.filename() == "events.jsonl";
    if (a_single != b_single) return a_single;
    return a < b;
  });
  return out;
}

}  // namespace

Page page(const Store& store, const fs::path& archive_dir, const std::string& since, const std::string& until,
          std::int64_t after_id, int limit) {
  limit = std::clamp(limit, 1, kMaxPage);
  Page out;
  std::int64_t cursor = after_id;
  auto full = [&] { return static_cast<int>(out.events.size()) >= limit; };
  auto in_range = [&](const json& e) {
    auto it = e.find("ts");
    if (it == e.end() || !it->is_string()) return false;
    const std::string& ts = it->get_ref<const std::string&>();
    return ts >= since && ts < until;
  };
  for (const fs::path& file : archive_files(archive_dir, since, until)) {
    if (full()) break;
    ArchiveFile f(file);
    if (!f.ok()) continue;
    f.read_from(f.first_after(cursor), [&](const json& e) {
      const std::int64_t id = ArchiveFile::id_of(e);
      if (id <= cursor) return true;
      if (in_range(e)) out.events.push_back(e);
      cursor = id;
      return !full();
    });
  }
  if (!full()) {
    EventFilter f;
    f.since = since;
    f.until = until;
    f.after_id = cursor;
    f.limit = limit - static_cast<int>(out.events.size());
    for (const Event& e : store.query(f)) {
      out.events.push_back(to_json(e));
      cursor = e.id;
    }
  }
  if (full()) out.next_after_id = cursor;
  return out;
}

}  // namespace vermas::audit
