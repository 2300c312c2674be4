// The in-memory buffer: compressed packet references in arrival order, on the recorder timeline (µs),
// and the consumer seam every feature reads packets through.
//
// The seam (packets flow one way: source → ingest thread → ring → consumers):
//  - Query(range): references to the buffered packets of chosen tracks for a range, with their codec
//    parameters, the gaps and the wall-clock map of that range. No save rules: saves (clip.cc) are one
//    user of it. The ring's lock is held only while references are taken.
//  - Subscribe(): the live packet stream, as the ingest thread buffers it, through a bounded queue
//    (subscription.h). The ingest thread never waits for a consumer; a slow one loses its own packets
//    and is told how many.
//  - Muxing goes through muxer.h (open / write / close), for one-shot saves and long-running writers.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "av.h"
#include "wall_clock.h"

namespace avr {

// Codec parameters of one track for one connection: a reconnect may bring new extradata or a new size.
struct TrackParams {
  ParamsPtr par;
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
};
using SessionParams = std::shared_ptr<const std::vector<TrackParams>>;

// A buffered packet's data: one reference to its buffer and where the payload lies in it. Lighter than
// an AVPacket per entry (av_malloc aligns each to 64 bytes: ~190 bytes a packet, MBs over a buffer of
// tens of thousands); the rare packet with side data keeps its whole AVPacket.
class PacketData {
 public:
  PacketData() = default;
  PacketData(PacketData&& o) noexcept { *this = std::move(o); }
  PacketData& operator=(PacketData&& o) noexcept;
  PacketData(const PacketData&) = delete;
  PacketData& operator=(const PacketData&) = delete;
  ~PacketData() { Reset(); }

  static PacketData Take(AVPacket* pkt);  // moves pkt's reference in (pkt is left blank); throws on OOM
  PacketData Ref() const;                 // a fresh reference to the same data (no copy); throws on OOM
  void Fill(AVPacket* pkt) const;         // pkt (blank) gets a fresh reference; throws on OOM
  explicit operator bool() const { return buf_ || whole_; }
  int size() const { return size_; }
  int64_t held() const;                   // bytes the referenced buffer holds

 private:
  void Reset();
  AVBufferRef* buf_ = nullptr;
  uint8_t* data_ = nullptr;
  int size_ = 0;
  int flags_ = 0;
  PacketPtr whole_;  // only for packets with side data
};

struct RingEntry {
  PacketData pkt;       // one reference to the demuxed/encoded data (empty in timing-only queries)
  int track = 0;
  int64_t pts = 0;      // recorder timeline, µs (the packet's own timestamps are not used)
  int64_t dts = 0;
  int64_t duration = 0;
  bool key = false;
  SessionParams session;
  int64_t held = 0;     // bytes this reference keeps alive (the whole buffer, not just the payload)
};

// A fresh reference to the same data (av_packet_ref: no copy), or only the times and parameters
// (with_data false); throws on allocation failure.
RingEntry RefEntry(const RingEntry& e, bool with_data = true);

struct Gap {
  int64_t from, to;  // timeline µs
};

struct RangeQuery {
  int64_t from = 0, to = 0;      // timeline µs
  uint32_t tracks = ~0u;         // bit per track
  bool from_keyframe = true;     // start at the key track's latest keyframe at or before `from`
  int64_t slack = 2'000'000;     // packets this far around the range too (interleaving skew of tracks)
  bool timing_only = false;      // no packet references, only times (cheap completeness checks)
};

struct RangeResult {
  std::vector<RingEntry> packets;   // arrival order (decode order within a track)
  int key_track = 0;
  int tracks = 0;                   // number of tracks the recorder has
  std::vector<int64_t> newest_dts;  // per track, INT64_MIN when none buffered yet
  std::vector<bool> present;        // per track: in the newest connection
  bool connected = true;            // a connection is open: more packets may come
  int64_t oldest = 0, newest = 0;
  std::vector<Gap> gaps;            // gaps overlapping the range
  WallMap wall;                     // wall-clock map of the range (empty: the source has no wall clock)
};

struct RingStats {
  int64_t packets = 0, bytes = 0, held = 0, gops = 0;
  int64_t oldest = 0, newest = 0;   // µs on the timeline; newest is the end of the newest packet
  int64_t oldest_wall = 0, newest_wall = 0;  // µs since the epoch (0: no wall clock)
  int64_t total_packets = 0, total_bytes = 0, evicted_packets = 0;
  bool empty = true;
  bool has_wall = false;
};

class Subscription;

class PacketRing {
 public:
  PacketRing(int64_t max_us, int64_t max_bytes) : max_us_(max_us), max_bytes_(max_bytes) {}
  ~PacketRing();

  // The track whose keyframes start every save and bound every eviction (video if any, else audio).
  void SetTracks(int tracks, int key_track);
  // Returns false (and drops the packet) until the first keyframe of the key track arrives.
  bool Push(RingEntry&& e);
  void SetPresent(const std::vector<bool>& present);  // tracks of the current connection
  // Whether a connection is open: between connections (and after the last) nothing more can join
  // what is buffered, so a clip ending there is final.
  void SetConnected(bool connected);
  void MarkGap(int64_t from, int64_t to);
  // A sample of the source clock: timeline instant t reached us (or the sender) at wall time `arrival`.
  void ObserveClock(int64_t t, int64_t arrival);
  // A GOP longer than the caps: returns its length once (then 0 until the buffer is within caps again).
  int64_t TakeLongGopWarning(int64_t* bytes);

  RangeResult Query(const RangeQuery& q) const;
  std::shared_ptr<Subscription> Subscribe(uint32_t tracks, size_t capacity);
  void CloseSubscriptions();  // the ingest thread is done: consumers drain and see the end

  int64_t Newest() const;
  int64_t Oldest() const;  // pts of the oldest buffered packet (0 when empty)
  RingStats Stats() const;
  std::vector<Gap> Gaps() const;
  bool HasWallClock() const;
  int64_t WallToTimeline(int64_t wall_us) const;
  int64_t TimelineToWall(int64_t t) const;  // µs since the epoch, 0 without a wall clock

 private:
  void EvictLocked();
  void PopFrontLocked();

  const int64_t max_us_, max_bytes_;
  mutable std::mutex mu_;
  int key_track_ = -1;
  std::deque<RingEntry> entries_;
  uint64_t front_seq_ = 0;      // sequence number of entries_.front()
  std::deque<uint64_t> keys_;   // sequence numbers of key-track keyframes
  std::deque<Gap> gaps_;
  std::vector<int64_t> newest_dts_;
  std::vector<bool> present_;
  WallMap wall_;
  ClockEstimator clock_;
  int64_t bytes_ = 0, held_ = 0;
  int64_t newest_ = 0;
  int64_t total_packets_ = 0, total_bytes_ = 0, evicted_ = 0;
  bool long_gop_ = false, long_gop_told_ = false;
  bool connected_ = false;
  std::vector<std::weak_ptr<Subscription>> subs_;
  bool subs_closed_ = false;
};

}  // namespace avr
