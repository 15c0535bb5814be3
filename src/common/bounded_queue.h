// BoundedQueue: a blocking queue of at most `capacity` items between
// threads (scan's two stages pass batches of interactions through it).
//
// Push blocks while the queue is full, Pop while it is empty; Close() wakes
// both: Push then fails and Pop drains what is left before returning
// nullopt. Meant for a few hundred batches a second -- one mutex, two
// condition variables; each call costs a lock and possibly a wake-up, so
// pass batches, not single items. Memory: capacity items.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace dg {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // False (and `item` dropped) when the queue was closed.
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Never blocks: an item if one is waiting.
  std::optional<T> TryPop() {
    std::lock_guard<std::mutex> lock(mu_);
    return TakeLocked();
  }

  // Blocks until an item is there; nullopt once closed and empty.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    return TakeLocked();
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::optional<T> TakeLocked() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace dg
