#pragma once
// One name for nlohmann's JSON type across the project's own code (declared once: the
// sources are compiled in unity batches, where per-file aliases would shadow each other).
#include <nlohmann/json.hpp>

namespace vermas {
using json = nlohmann::json;
}  // namespace vermas
