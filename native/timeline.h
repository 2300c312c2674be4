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
    int64_t gap_from;  // > INT64_MIN when this packet leaves a hole (gap_from .. dts) in the timeline
    int64_t raw_pts;   // the connection's own pts in µs (unwrapped), for clocks the sender gives
  };

  explicit Timeline(int tracks) : tracks_(tracks) {}

  // The next packet starts a new connection: it lands after the newest instant plus the real time
  // that passed, so a reconnect shows as a gap of the length it really had.
  void NewSession() {
    have_anchor_ = false;
    jump_ = {};
    for (Track& t : tracks_) {
      t.placed = false;
      t.last_raw = AV_NOPTS_VALUE;
      t.wrap_add = 0;
    }
  }

  // The duration a packet of this track lasts when it says nothing (1 / frame rate, samples per frame).
  void SetDefaultDuration(int track, int64_t us) { tracks_[track].default_dur = us; }

  // Returns false for a packet that cannot be placed.
  // wrap_bits: the stream's timestamp width (33 for MPEG-TS), 64 when it never wraps.
  bool Map(int track, const AVPacket* pkt, AVRational tb, int wrap_bits, Mapped* out);

  int64_t newest() const { return newest_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Track {
    bool placed = false;              // has a packet in this connection
    int64_t offset = 0;               // timeline = stream µs + offset; per track, so a jump on one track
                                      // is spliced without moving the others
    int64_t last_dts = INT64_MIN;     // timeline
    int64_t est_dur = 0;
    int64_t default_dur = 0;
    int64_t last_raw = AV_NOPTS_VALUE;  // last dts in stream ticks, before unwrapping
    int64_t wrap_add = 0;               // ticks added for the wraps seen so far
    Clock::time_point last_seen{};
  };
  // The last discontinuity spliced in this connection: another track jumping by the same amount soon
  // after is the same discontinuity, and takes the same shift, so the tracks stay aligned.
  struct Jump {
    bool valid = false;
    int track = -1;
    int64_t at = 0;     // timeline instant of the splice
    int64_t delta = 0;  // how far the stream jumped (µs)
    int64_t shift = 0;  // what the splice added to that track's offset
  };

  static int64_t Since(Clock::time_point t);

  std::vector<Track> tracks_;
  bool have_anchor_ = false;  // a packet of this connection has been placed
  bool started_ = false;
  int64_t anchor_offset_ = 0;  // the connection's offset, for tracks that join it later
  int64_t newest_ = 0;
  Clock::time_point last_seen_{};  // any track
  Jump jump_;
};

}  // namespace avr
