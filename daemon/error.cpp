#include "daemon/error.hpp"

namespace vermas {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::conflict: return "conflict";
    case Errc::permission_denied: return "permission_denied";
    case Errc::budget_exceeded: return "budget_exceeded";
    case Errc::unavailable: return "unavailable";
    case Errc::too_large: return "too_large";
    case Errc::busy: return "busy";
    case Errc::storage_full: return "storage_full";
    case Errc::corrupt: return "corrupt";
    case Errc::constraint: return "constraint";
    case Errc::io: return "io";
    case Errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace vermas
