// footage(): one clip of a wall-clock range from the disk recorder's segments and the memory buffer,
// joined without re-encoding. Disk first, memory from its first keyframe on: where the two overlap the
// memory's packets win, and for segments this run wrote (their packets are the ring's, with a known
// timeline origin) the cut is on the timeline itself, so no frame is doubled or lost at the join. The clip
// starts at the video keyframe at or before `from`; what nothing covers is reported. Segments are streamed,
// never held whole.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "muxer.h"
#include "packet_ring.h"

namespace avr {

struct FootageSegment {
  std::string url;                    // a file: URL
  int64_t start_wall = 0;             // µs since the epoch of its first packet
  int64_t duration = 0;               // µs of media
  int64_t end_wall = 0;               // µs since the epoch just past its last packet
  int64_t timeline_start = INT64_MIN;  // this run's timeline µs of its first packet (INT64_MIN: another run)
  bool complete = true;                // false: being written (its last second may not be in the file yet)
};

struct FootageRequest {
  std::vector<FootageSegment> segments;  // oldest first
  int64_t from = 0, to = 0;              // µs since the epoch
  MuxOptions mux;
};

struct FootageResult {
  MuxResult mux;
  int64_t start_wall = 0, end_wall = 0;
  int64_t duration = 0;  // µs of media in the clip (the wall-clock span may differ while the clock settles)
  int64_t disk_us = 0, memory_us = 0;
  int64_t timeline_start = INT64_MIN, timeline_end = INT64_MIN;  // this recorder's, when its packets place it
  std::vector<TrackParams> tracks;  // the file's
  int gaps = 0;  // holes inside the clip: segments missing between two that are there, reconnects
  std::vector<std::pair<int64_t, int64_t>> missing;  // wall µs
};

// ring may be null (the standalone footage(dir, …)). Throws avr::Exception.
FootageResult WriteFootage(const FootageRequest& req, std::shared_ptr<PacketRing> ring);

// The worker: footage on a libuv worker, the result as { path, format, start, end (epoch ms), duration,
// bytes, packets, sources: { disk, memory } (s), missing: [{ from, to }] (epoch ms) }.
Napi::Promise QueueFootage(Napi::Env env, FootageRequest req, std::shared_ptr<PacketRing> ring);
// footage({ path, from, to, segments: [{ url, startWall, duration, timelineStart? }] }) for the module.
Napi::Value FootageBinding(const Napi::CallbackInfo& info);
FootageRequest FootageFromJs(const Napi::Object& o);

}  // namespace avr
