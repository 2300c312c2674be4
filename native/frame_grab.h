// A video frame from the buffer: the frame on screen at an instant (decoded from the keyframe before it),
// the newest frame, or the newest keyframe alone, rendered by image.h. A function of the ring's packets
// that runs on a libuv worker; 'latest' grabs continue a per-recorder decoder (FrameCache) so that grabs
// at a steady rate decode each packet once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "image.h"
#include "packet_ring.h"
#include "video_decoder.h"

namespace avr {

struct GrabOptions {
  enum class At { kLatest, kKeyframe, kInstant } at = At::kLatest;
  int64_t t = 0;               // kInstant: timeline µs
  bool keyframe_only = false;  // kInstant: the keyframe at or before t (one decode), not the frame at t
  ImageOptions image;
};

struct Grabbed {
  Image image;
  int64_t pts = 0;  // timeline µs of the frame
  bool key = false;
};

// One recorder's decoder state for 'latest' grabs: the decoder of the newest GOP, fed up to the newest
// packet a grab has seen, and the newest frame it gave. Grabs that find it busy decode on their own.
struct FrameCache {
  // Frames decoded by every grab of this recorder (stats().framesDecoded).
  std::atomic<int64_t> decoded{0};
  // The rest belongs to frame_grab.cc, under mu_.
  std::mutex mu_;
  std::unique_ptr<VideoDecoder> dec_;
  SessionParams session_;
  int64_t key_dts_ = 0, fed_dts_ = 0;
  FramePtr best_;
  int64_t best_pts_ = 0;
  bool best_key_ = false;
  int64_t last_grab_us_ = 0;  // av_gettime_relative() of the last 'latest' grab
};

// Throws avr::Exception (ERR_NO_VIDEO, ERR_RANGE_NOT_BUFFERED, ERR_DECODE, ERR_ENCODE).
Grabbed GrabFrame(const PacketRing& ring, const GrabOptions& o, FrameCache& cache);

}  // namespace avr
