#pragma once
// The daemon's io_context, with one thing more: it can destroy what is still pending.
#include <boost/asio/io_context.hpp>

namespace vermas {

class IoLoop : public boost::asio::io_context {
 public:
  IoLoop() : io_context(1) {}  // concurrency hint 1: one thread owns all state

  // Destroys every handler still queued or waiting (timers, sockets, child exits), and with
  // them the frames of the coroutines suspended on them, running their destructors now.
  // After io_context::stop() those frames would otherwise live until ~io_context, which
  // comes after the components they hold references into (a slot reservation, a rebuild's
  // cache guard): the daemon calls this while every component still lives. The loop is
  // finished after it; objects on it may still be destroyed. (execution_context::shutdown
  // is what ~io_context runs first; running it again there is harmless.)
  void destroy_pending() { shutdown(); }
};

}  // namespace vermas
