// Maps each connection's stream timestamps onto the recorder's one monotonic timeline (µs).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "av.h"

namespace avr {

class Timeline {
 public:
  struct Mapped {
    int64_t pts, dts, duration;
    int64_t gap_from;  // > INT64_MIN when the jump left a hole in the timeline
    int64_t raw_pts;   // the connection's own pts in µs (unwrapped), for clocks the sender gives
  };

  explicit Timeline(int tracks)
      : last_dts_(tracks, INT64_MIN), est_dur_(tracks, 0), last_raw_(tracks, AV_NOPTS_VALUE), wrap_add_(tracks, 0) {}

  // The next packet starts a new connection: it lands after the newest instant plus the real time
  // that passed, so a reconnect shows as a gap of the length it really had.
  void NewSession() {
    have_offset_ = false;
    std::fill(last_raw_.begin(), last_raw_.end(), AV_NOPTS_VALUE);
    std::fill(wrap_add_.begin(), wrap_add_.end(), 0);
  }

  // Returns false for a packet that cannot be placed (no timestamp yet on this track).
  // wrap_bits: the stream's timestamp width (33 for MPEG-TS), 64 when it never wraps.
  bool Map(int track, const AVPacket* pkt, AVRational tb, int wrap_bits, Mapped* out);

  int64_t newest() const { return newest_; }

 private:
  int64_t Elapsed() const;

  bool have_offset_ = false;
  bool started_ = false;
  int64_t offset_ = 0;
  int64_t newest_ = 0;
  std::vector<int64_t> last_dts_;
  std::vector<int64_t> est_dur_;
  std::vector<int64_t> last_raw_;  // last dts in stream ticks, before unwrapping
  std::vector<int64_t> wrap_add_;  // ticks added for the wraps seen so far
  std::chrono::steady_clock::time_point last_seen_{};
};

}  // namespace avr
