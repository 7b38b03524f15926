#pragma once
// One error type through the daemon, after LevelDB's Status: a kind the core reasons about
// (not found, conflict, the database busy ...), a message for the operator and details for
// tools. Only the RPC edge speaks JSON-RPC: rpc/errors.hpp maps the kind to a code, so the
// core never picks protocol numbers, and a store failure and a domain refusal travel the
// same way. (rpc::Error remains for what only the edge can say: a malformed request, an
// unknown method, a bad parameter.)
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace vermas {

enum class Errc {
  invalid_argument,   // a value the caller must change
  not_found,          // no such agent, factory, work order, alert ...
  conflict,           // not now, or not from this state
  permission_denied,  // not this caller
  budget_exceeded,    // a spend cap says no
  unavailable,        // shutting down, or a dependency that is not there: try again later
  too_large,          // over a size limit
  busy,               // the database is locked by another writer
  storage_full,       // the disk (or the database's quota) is full
  corrupt,            // the database file is damaged or not a database
  constraint,         // a database constraint refused the write
  io,                 // the database's I/O failed
  internal,           // a bug or an unexpected failure
};

const char* to_string(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message, nlohmann::json details = nullptr)
      : std::runtime_error(message), code_(code), details_(std::move(details)) {}
  Errc code() const { return code_; }
  const nlohmann::json& details() const { return details_; }
  // The database refused for now (locked, full): the same request may succeed later.
  bool transient_store_failure() const { return code_ == Errc::busy || code_ == Errc::storage_full; }

 private:
  Errc code_;
  nlohmann::json details_;
};

}  // namespace vermas
