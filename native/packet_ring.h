// The in-memory buffer: compressed packet references in arrival order, on the recorder timeline (µs).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "av.h"

namespace avr {

// Codec parameters of one track for one connection: a reconnect may bring new extradata or a new size.
struct TrackParams {
  ParamsPtr par;
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
};
using SessionParams = std::shared_ptr<const std::vector<TrackParams>>;

struct RingEntry {
  PacketPtr pkt;        // owns one reference to the demuxed/encoded data; timestamps are rewritten in µs
  int track = 0;
  int64_t pts = 0;      // recorder timeline, µs
  int64_t dts = 0;
  int64_t duration = 0;
  bool key = false;
  SessionParams session;
};

// A save's share of the ring: fresh references (av_packet_ref), so the ring may evict meanwhile.
struct Snapshot {
  std::vector<TrackParams> tracks;  // copies, from the session of the first packet (par null: absent)
  std::vector<PacketPtr> packets;   // timestamps in µs, rebased so that the start is 0
  std::vector<int> track_of;        // track index of each packet
  int64_t start = 0;                // timeline µs of the first video keyframe (or first packet)
  int64_t end = 0;                  // timeline µs just past the last packet
  int64_t requested_from = 0;
  int64_t requested_to = 0;
  int gaps = 0;                     // gaps (reconnects, discontinuities) inside the range
  int64_t start_wall = 0, end_wall = 0;  // µs since the epoch, read under the same lock
};

struct RingStats {
  int64_t packets = 0, bytes = 0, gops = 0;
  int64_t oldest = 0, newest = 0;   // µs on the timeline; newest is the end of the newest packet
  int64_t oldest_wall = 0, newest_wall = 0;  // µs since the epoch
  int64_t total_packets = 0, total_bytes = 0, evicted_packets = 0;
  bool empty = true;
};

struct Gap {
  int64_t from, to;  // timeline µs
};

class PacketRing {
 public:
  PacketRing(int64_t max_us, int64_t max_bytes) : max_us_(max_us), max_bytes_(max_bytes) {}

  // The track whose keyframes start every save and bound every eviction (video if any, else audio).
  void SetKeyTrack(int track);
  // Returns false (and drops the packet) until the first keyframe of the key track arrives.
  bool Push(RingEntry&& e);
  void Anchor(int64_t t, int64_t wall_us);  // wall-clock time of timeline instant t
  void MarkGap(int64_t from, int64_t to);

  // from/to on the timeline (µs). Starts at the latest key-track keyframe at or before `from`.
  Snapshot Select(int64_t from, int64_t to);
  int64_t Newest() const;
  RingStats Stats() const;
  std::vector<Gap> Gaps() const;
  int64_t WallToTimeline(int64_t wall_us) const;

 private:
  struct AnchorPoint { int64_t t, wall; };
  void EvictLocked();
  int64_t WallLocked(int64_t t) const;
  int64_t TimelineLocked(int64_t wall) const;

  const int64_t max_us_, max_bytes_;
  mutable std::mutex mu_;
  int key_track_ = -1;
  std::deque<RingEntry> entries_;
  uint64_t front_seq_ = 0;      // sequence number of entries_.front()
  std::deque<uint64_t> keys_;   // sequence numbers of key-track keyframes
  std::deque<AnchorPoint> anchors_;
  std::deque<Gap> gaps_;
  int64_t bytes_ = 0;
  int64_t newest_ = 0;
  int64_t total_packets_ = 0, total_bytes_ = 0, evicted_ = 0;
};

}  // namespace avr
