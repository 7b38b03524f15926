#pragma once
// The slot a dispatch, a release or a remedy works on is reserved until its coroutine ends,
// however it ends: no second one starts on it meanwhile.
#include <set>
#include <string>
#include <utility>

namespace vermas {

class Reservation {
 public:
  Reservation(std::set<std::pair<std::string, int>>& set, std::pair<std::string, int> key)
      : set_(set), key_(std::move(key)) {
    set_.insert(key_);
  }
  ~Reservation() { release(); }
  void release() {
    if (held_) set_.erase(key_);
    held_ = false;
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

 private:
  std::set<std::pair<std::string, int>>& set_;
  std::pair<std::string, int> key_;
  bool held_ = true;
};

}  // namespace vermas
