#pragma once
// Thin helpers over the SQLite C API shared by the store and the projections: error
// mapping to Error, and prepared statements cached per connection for its lifetime.
#include <cstdint>
#include "daemon/error.hpp"
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace vermas::sql {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view doing);
void exec(sqlite3* db, const char* sql, std::string_view doing);

// Prepared statements keyed by SQL text, finalized with the cache. One per connection;
// the daemon uses its connection from one thread only (SQLITE_OPEN_NOMUTEX).
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  sqlite3_stmt* get(const std::string& sql);
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// One use of a cached statement: bind, step, read columns; reset on scope exit so a
// statement never stays active (which would pin a read snapshot or block COMMIT).
class Stmt {
 public:
  Stmt(StatementCache& cache, const std::string& sql, std::string doing);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::optional<std::string>& v);
  Stmt& bind(int i, const std::optional<std::int64_t>& v);
  Stmt& bind_null(int i);
  bool step();  // true: a row is available; false: done
  void run() { while (step()) {} }
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  bool is_null(int col) const;

 private:
  Stmt& check(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string doing_;  // for error messages
};

}  // namespace vermas::sql
