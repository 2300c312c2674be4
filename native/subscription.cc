#include "subscription.h"

namespace avr {

void Subscription::Offer(const RingEntry& e) {
  if (!(tracks_ & (1u << e.track))) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  if (queue_.size() >= capacity_) {
    pending_drops_++;
    dropped_++;
    return;
  }
  RingEntry ref;
  try {
    ref = RefEntry(e);
  } catch (...) {  // out of memory: this consumer misses the packet, ingest goes on
    pending_drops_++;
    dropped_++;
    return;
  }
  queue_.push_back({std::move(ref), pending_drops_});
  pending_drops_ = 0;
  cv_.notify_one();
}

void Subscription::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool Subscription::Pop(LivePacket* out, int64_t timeout_us) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::microseconds(timeout_us), [this] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool Subscription::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_ && queue_.empty();
}

int64_t Subscription::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace avr
