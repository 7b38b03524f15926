#pragma once
// Slow work that owns no daemon state (a backup's snapshot and file copies, db.verify's
// replay) runs on a thread of its own; the io thread goes on answering and the awaiting
// handler resumes there with the result or the exception. Threads are joined by the
// destructor, so whatever they capture must outlive this object (the caller's stop flag
// makes them end early).
#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vermas {

class OffThread {
 public:
  explicit OffThread(boost::asio::io_context& io) : io_(io) {}
  ~OffThread() {
    for (auto& w : workers_)
      if (w.thread.joinable()) w.thread.join();
  }
  OffThread(const OffThread&) = delete;
  OffThread& operator=(const OffThread&) = delete;

  template <class T>
  boost::asio::awaitable<T> run(std::function<T()> fn) {
    struct Outcome {
      std::optional<T> value;
      std::exception_ptr error;
      boost::asio::steady_timer done;
      explicit Outcome(boost::asio::io_context& io) : done(io, boost::asio::steady_timer::time_point::max()) {}
    };
    auto out = std::make_shared<Outcome>(io_);
    reap();
    auto finished = std::make_shared<std::atomic<bool>>(false);
    auto& worker = workers_.emplace_back();
    worker.finished = finished;
    worker.thread = std::thread([this, out, finished, fn = std::move(fn)] {
      std::optional<T> value;
      std::exception_ptr error;
      try {
        value.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
      // Only the io thread touches the outcome (its timer above all).
      boost::asio::post(io_, [out, value = std::move(value), error]() mutable {
        out->value = std::move(value);
        out->error = error;
        out->done.cancel();
      });
      finished->store(true);
    });
    co_await out->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (out->error) std::rethrow_exception(out->error);
    co_return std::move(*out->value);
  }

 private:
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  // Joins the threads that are done (a join of a running one would block the io thread).
  void reap() {
    std::vector<Worker> running;
    for (auto& w : workers_) {
      if (w.finished->load()) w.thread.join();
      else running.push_back(std::move(w));
    }
    workers_ = std::move(running);
  }
  boost::asio::io_context& io_;
  std::vector<Worker> workers_;
};

}  // namespace vermas
