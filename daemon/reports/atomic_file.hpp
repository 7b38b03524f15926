#pragma once
// A small file written whole or not at all (the daily standup, the metrics textfile): a
// temporary file beside it, written and fsynced, renamed over it, the directory fsynced. A
// reader (node_exporter, an operator's cat) sees the old text or the new, never half.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string_view>

namespace vermas {

// Throws std::runtime_error naming the file and the cause. `mode`: the file's permissions,
// whatever the umask (node_exporter runs as another user); none: the umask decides.
void write_file_atomically(const std::filesystem::path& file, std::string_view text,
                           std::optional<mode_t> mode = std::nullopt);

}  // namespace vermas
