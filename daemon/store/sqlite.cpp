#include "daemon/store/sqlite.hpp"
#include "daemon/error.hpp"

#include <sqlite3.h>

namespace vermas::sql {

namespace {
Errc kind_of(int rc) {
  switch (rc & 0xff) {  // primary code of an extended result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::busy;
    case SQLITE_FULL: return Errc::storage_full;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Errc::corrupt;
    case SQLITE_CONSTRAINT: return Errc::constraint;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: return Errc::io;
    default: return Errc::internal;
  }
}

}  // namespace

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view doing) {
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw Error(kind_of(rc), "database: " + std::string(doing) + ": " + msg);
}

void exec(sqlite3* db, const char* sql, std::string_view doing) {
  if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr); rc != SQLITE_OK) fail(db, rc, doing);
}

StatementCache::~StatementCache() {
  for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::get(const std::string& sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "preparing \"" + sql + "\"");
  statements_.emplace(sql, stmt);
  return stmt;
}

Stmt::Stmt(StatementCache& cache, const std::string& sql, std::string doing)
    : db_(cache.db()), stmt_(cache.get(sql)), doing_(std::move(doing)) {}

Stmt::~Stmt() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Stmt& Stmt::check(int rc) {
  if (rc != SQLITE_OK) fail(db_, rc, doing_);
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
}
Stmt& Stmt::bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
Stmt& Stmt::bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
Stmt& Stmt::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind_null(i);
}
Stmt& Stmt::bind(int i, const std::optional<std::int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }
Stmt& Stmt::bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, doing_);
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }
bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::string Stmt::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}
std::optional<std::int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

}  // namespace vermas::sql
