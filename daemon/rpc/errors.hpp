#pragma once
// The edge's half of the one error type: a daemon Error's kind as a JSON-RPC code (spec §6).
#include "daemon/error.hpp"

namespace vermas::rpc {

// invalid_argument -32602; not_found -32001; conflict -32002; permission_denied -32003;
// budget_exceeded -32004; unavailable, busy, storage_full -32005 (try again); too_large
// -32006; corrupt, constraint, io, internal -32603.
int to_rpc_code(Errc code);

}  // namespace vermas::rpc
