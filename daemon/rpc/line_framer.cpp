#include "daemon/rpc/line_framer.hpp"

namespace vermas {

void LineFramer::compact() {
  buffer_.erase(0, start_);
  scanned_ -= std::min(scanned_, start_);
  start_ = 0;
}

void LineFramer::append(std::string_view bytes) {
  compact();
  if (discarding_) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) return;  // still inside the too-long line
    discarding_ = false;
    bytes.remove_prefix(nl + 1);
  }
  buffer_.append(bytes);
}

LineFramer::Frame LineFramer::next() {
  auto nl = buffer_.find('\n', std::max(start_, scanned_));
  if (nl != std::string::npos) {
    std::string_view line(buffer_.data() + start_, nl - start_);
    start_ = scanned_ = nl + 1;
    if (line.size() > max_line_) return {Frame::Kind::too_long, {}};
    return {Frame::Kind::line, line};
  }
  scanned_ = buffer_.size();
  if (buffered() > max_line_) {
    // Report once and drop what we have; append() drops the rest up to the newline.
    buffer_.clear();
    start_ = scanned_ = 0;
    discarding_ = true;
    return {Frame::Kind::too_long, {}};
  }
  return {};
}

}  // namespace vermas
