// A clip's exact edges: which buffered packets a save of [from, to) writes. Pure functions of the packets,
// so a save made during post-roll and the same range saved later write identical packets.
//
//  - Start: the key track's latest keyframe at or before `from` (its pts is the file's 0). Other tracks
//    start at their first packet presented at or after it.
//  - Video tail: every frame presented before `to`, plus the frames they need to be decoded, and then
//    everything presented before the last of those (B-frames shown between them): the kept frames are a
//    prefix in decode order *and* in presentation order, so playback ends without a jump.
//  - Audio tail: every packet presented before the video's end; audio ends within one audio frame of it.
//  - The result's end is the end of the last presented packet: exactly what the file holds.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "muxer.h"
#include "packet_ring.h"

namespace avr {

struct ClipPlan {
  std::vector<size_t> keep;   // indices into the range's packets, arrival order
  int64_t start = 0;          // timeline µs of the first frame (the file's 0)
  int64_t end = 0;            // timeline µs just past the last presented packet
  bool complete = false;      // no packet still to come can change the clip
};

// `range` comes from PacketRing::Query: its first keyframe (the one at or before the requested start)
// starts the clip; `to` is the requested end.
ClipPlan PlanClip(const RangeResult& range, int64_t to);

struct ClipResult {
  MuxResult mux;
  int64_t start = 0, end = 0;          // timeline µs
  int64_t start_wall = 0, end_wall = 0;  // µs since the epoch, 0 when the source has no wall clock
  int gaps = 0;
  std::vector<TrackParams> tracks;     // what the file holds (par null: absent)
};

// Writes the planned packets of `range` to a file (timestamps rebased to the clip's start).
ClipResult WriteClip(const RangeResult& range, const ClipPlan& plan, const MuxOptions& opts);

}  // namespace avr
