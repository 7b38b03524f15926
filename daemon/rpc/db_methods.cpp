// The database's upkeep for operators (issue 13): db.backup and db.verify. The work itself
// is in daemon/backup/ and daemon/store/verify.*, off the io thread.
#include "common/json.hpp"
#include "daemon/daemon.hpp"

namespace vermas {

namespace {

boost::asio::awaitable<json> rpc_db_backup(Daemon& d, Call& c) {
  Backups::Request r;
  if (auto file = c.params.str("file", 4096)) {
    // The client resolves a relative path against its own directory; the daemon's is not it.
    if (file->empty() || (*file)[0] != '/')
      throw rpc::Error(rpc::code::invalid_params, "file: expected an absolute path", json{{"field", "file"}});
    r.file = *file;
  }
  r.dir = backup_dir(d.paths(), d.config().backup.dir);
  r.keep = d.config().backup.keep;
  r.company = d.config().company.name;
  r.actor = c.actor();
  json out = co_await d.backups().create(std::move(r));
  co_return out;
}

boost::asio::awaitable<json> rpc_db_verify(Daemon& d, Call&) {
  json out = co_await d.backups().verify();
  co_return out;
}

}  // namespace

void register_db_methods(Router& router, Daemon& d) {
  using namespace access;
  static const DaemonMethod kMethods[] = {
      {"db.backup", {"file"}, operator_only,
       "a consistent snapshot of the database with the configuration, templates and event archive, as one "
       ".tar.gz with a manifest; answers when the file is complete",
       rpc_db_backup},
      {"db.verify", {}, operator_only,
       "integrity check, event order, every work order's history against the transition table, projections "
       "against a replay: {ok, findings, checked}",
       rpc_db_verify},
  };
  add_methods(router, d, kMethods);
}

}  // namespace vermas
