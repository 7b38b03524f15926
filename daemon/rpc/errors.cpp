#include "daemon/rpc/errors.hpp"

#include "common/jsonrpc.hpp"

namespace vermas::rpc {

int to_rpc_code(Errc c) {
  switch (c) {
    case Errc::invalid_argument: return code::invalid_params;
    case Errc::not_found: return code::not_found;
    case Errc::conflict: return code::conflict;
    case Errc::permission_denied: return code::permission_denied;
    case Errc::budget_exceeded: return code::budget_exceeded;
    case Errc::unavailable:
    case Errc::busy:
    case Errc::storage_full: return code::unavailable;
    case Errc::too_large: return code::too_large;
    case Errc::corrupt:
    case Errc::constraint:
    case Errc::io:
    case Errc::internal: return code::internal_error;
  }
  return code::internal_error;
}

}  // namespace vermas::rpc
