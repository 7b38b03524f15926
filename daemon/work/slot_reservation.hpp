#pragma once
// The slot a dispatch, a release or a remedy works on is reserved until its coroutine ends,
// however it ends: no second one starts on it meanwhile.
//
// The reservation holds its set weakly: a coroutine still suspended when its io_context is
// destroyed after the dispatcher (a harness's loop; the daemon itself now destroys pending
// frames first, IoLoop::destroy_pending) would erase from a freed set. That walked a corrupt
// tree forever once (CI: a stopping daemon at 100 % CPU, 33 minutes on). Once the set is
// gone there is nothing to release.
#include <memory>
#include <set>
#include <string>
#include <utility>

namespace vermas {

using ReservedSlots = std::set<std::pair<std::string, int>>;

class Reservation {
 public:
  Reservation(const std::shared_ptr<ReservedSlots>& set, std::pair<std::string, int> key)
      : set_(set), key_(std::move(key)) {
    set->insert(key_);
  }
  ~Reservation() { release(); }
  void release() {
    if (!held_) return;
    held_ = false;
    if (auto set = set_.lock()) set->erase(key_);
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

 private:
  std::weak_ptr<ReservedSlots> set_;
  std::pair<std::string, int> key_;
  bool held_ = true;
};

}  // namespace vermas
