// The live half of the consumer seam: the packets the ingest thread buffers, handed to one consumer
// (audio meter, frame iterator, disk recorder) through a bounded queue. Offer() never blocks and never
// allocates beyond one packet reference: a consumer that falls behind loses its *own* packets, counted,
// and the next packet it pops says how many it missed. Ingest is never stalled.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "packet_ring.h"

namespace avr {

struct LivePacket {
  RingEntry entry;             // a reference of its own, with its connection's codec parameters
  int64_t dropped_before = 0;  // packets this consumer lost just before this one (it fell behind)
};

class Subscription {
 public:
  Subscription(uint32_t tracks, size_t capacity) : tracks_(tracks), capacity_(capacity) {}

  // Consumer side. Waits up to timeout_us for a packet; false when none came or the stream ended.
  bool Pop(LivePacket* out, int64_t timeout_us);
  bool ended() const;       // the ingest thread finished and everything was popped
  int64_t dropped() const;  // packets lost so far

  // Producer side (the ring, on the ingest thread).
  void Offer(const RingEntry& e);
  void Close();

 private:
  const uint32_t tracks_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<LivePacket> queue_;
  int64_t pending_drops_ = 0, dropped_ = 0;
  bool closed_ = false;
};

}  // namespace avr
