// A video frame from the buffer: the frame on screen at an instant (decoded from the keyframe before it),
// the newest frame, or the newest keyframe alone; scaled (libswscale) and encoded (libavcodec's mjpeg /
// png) or handed out as raw pixels. Pure function of the ring's packets: runs on a libuv worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "packet_ring.h"

namespace avr {

struct GrabOptions {
  enum class At { kLatest, kKeyframe, kInstant } at = At::kLatest;
  int64_t t = 0;             // kInstant: timeline µs
  bool keyframe_only = false;  // kInstant: the keyframe at or before t (one decode), not the frame at t
  std::string format = "jpeg";  // jpeg | png | rgb24 | rgba | gray
  int quality = 90;          // jpeg, 1–100
  int width = 0, height = 0;  // 0: from the other (aspect kept) or the frame's own
};

struct Grabbed {
  std::vector<uint8_t> data;
  int width = 0, height = 0, stride = 0;  // stride: raw formats only
  int64_t pts = 0;                        // timeline µs of the frame
  bool key = false;
};

// Throws avr::Exception (ERR_NO_VIDEO, ERR_RANGE_NOT_BUFFERED, ERR_DECODE, ERR_ENCODE).
Grabbed GrabFrame(const PacketRing& ring, const GrabOptions& o);

}  // namespace avr
