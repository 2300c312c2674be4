#include "timeline.h"

#include <algorithm>
#include <cstdlib>

namespace avr {

namespace {
// A jump larger than these within one connection is a discontinuity (HLS #EXT-X-DISCONTINUITY,
// a wrap libavformat did not correct, a restarted encoder), not a real pause.
constexpr int64_t kMaxBackUs = 500'000;
constexpr int64_t kMaxForwardUs = 5'000'000;
constexpr int64_t kGapUs = 1'000'000;  // smaller holes are jitter, not worth reporting
// How far ahead of the other tracks a muxer may interleave one (MPEG-TS audio lags video by up to ~0.7 s).
constexpr int64_t kInterleaveUs = 2'000'000;
// Two tracks jumping by amounts this close, this near each other, went through the same discontinuity.
constexpr int64_t kSameJumpUs = 1'000'000;
constexpr int64_t kSameJumpWindowUs = 10'000'000;
// A clashing or backward dts is moved this far past its predecessor: 1 ms stays strictly increasing in
// every output time base (Matroska and FLV count milliseconds), so no muxer refuses the packet.
constexpr int64_t kMinStepUs = 1000;
// No codec presents a frame this long after it decodes (B-frame reordering is well under a second): a
// pts further ahead than this is corrupt, and must not move the buffer's newest instant (and evict it).
constexpr int64_t kMaxReorderUs = 5'000'000;
}  // namespace

int64_t Timeline::Since(Clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return 0;
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

bool Timeline::Map(int track, const AVPacket* pkt, AVRational tb, int wrap_bits, Mapped* out) {
  Track& tr = tracks_[track];
  int64_t dur = pkt->duration > 0 ? av_rescale_q(pkt->duration, tb, kMicros) : 0;
  if (dur <= 0) dur = tr.est_dur > 0 ? tr.est_dur : tr.default_dur;
  const int64_t step = std::max<int64_t>(dur, kMinStepUs);
  int64_t pkt_dts = pkt->dts, pkt_pts = pkt->pts;
  if (wrap_bits > 0 && wrap_bits < 63) {
    // Unwrap exactly (MPEG-TS: 33 bits) where libavformat did not: a backward jump of about the whole
    // range is a wrap, not a discontinuity, and every track wraps by the same amount.
    const int64_t range = int64_t(1) << wrap_bits;
    const int64_t cur = pkt_dts != AV_NOPTS_VALUE ? pkt_dts : pkt_pts;
    if (cur != AV_NOPTS_VALUE) {
      if (tr.last_raw != AV_NOPTS_VALUE && cur < tr.last_raw - range / 2) tr.wrap_add += range;
      tr.last_raw = cur;
    }
    if (pkt_dts != AV_NOPTS_VALUE) pkt_dts += tr.wrap_add;
    if (pkt_pts != AV_NOPTS_VALUE) {
      pkt_pts += tr.wrap_add;
      if (pkt_dts != AV_NOPTS_VALUE && pkt_pts < pkt_dts - range / 2) pkt_pts += range;  // pts wrapped first
    }
  }
  out->gap_from = INT64_MIN;
  int64_t raw_dts, raw_pts;
  if (pkt_dts == AV_NOPTS_VALUE && pkt_pts == AV_NOPTS_VALUE) {
    // No timestamp (raw elementary streams, RTSP's first packets): as ffmpeg does, the packet follows
    // its predecessor by its duration; the first one of a track starts at the connection's newest
    // instant, or at 0 when it is the first of all.
    if (tr.placed) raw_dts = tr.last_dts + step - tr.offset;
    else if (have_anchor_) raw_dts = newest_ - anchor_offset_;
    else raw_dts = 0;
    raw_pts = raw_dts;
  } else {
    raw_dts = av_rescale_q(pkt_dts != AV_NOPTS_VALUE ? pkt_dts : pkt_pts, tb, kMicros);
    raw_pts = av_rescale_q(pkt_pts != AV_NOPTS_VALUE ? pkt_pts : pkt_dts, tb, kMicros);
  }

  if (!have_anchor_) {
    // The connection's first packet (a keyframe): 0 for the first connection; after a reconnect, the
    // newest instant plus the real time that passed.
    if (!started_) {
      anchor_offset_ = -raw_pts;
    } else {
      const int64_t target = newest_ + std::max(step, Since(last_seen_));
      if (target - newest_ > kGapUs) out->gap_from = newest_;
      anchor_offset_ = target - raw_dts;
    }
    have_anchor_ = true;
    started_ = true;
    tr.offset = anchor_offset_;
  } else if (!tr.placed) {
    // A track joining the connection shares its offset, unless that puts it implausibly far from the
    // others: then it starts at the newest instant.
    tr.offset = anchor_offset_;
    const int64_t dts = raw_dts + tr.offset;
    if (dts > newest_ + kMaxForwardUs + Since(last_seen_) || dts < newest_ - kMaxForwardUs) tr.offset = newest_ - raw_dts;
  } else {
    const int64_t last = tr.last_dts, dts = raw_dts + tr.offset;
    const int64_t expected = last + step;
    // Muxers interleave tracks by time: a track that jumps well ahead of where the others are went
    // through a discontinuity (a hole in every track would have kept them together).
    int64_t others = INT64_MIN;
    for (size_t i = 0; i < tracks_.size(); i++)
      if ((int)i != track && tracks_[i].placed) others = std::max(others, tracks_[i].last_dts);
    // A forward step that lands where the other tracks are is a hole in this track (an audio dropout):
    // kept. Alone, a track can only be judged by its own pace.
    const bool jumped = dts < last - kMaxBackUs ||
                        (others != INT64_MIN ? dts - expected > kGapUs && dts > others + kInterleaveUs
                                             : dts > last + kMaxForwardUs + Since(tr.last_seen));
    if (jumped) {
      // A discontinuity on this track: splice it where it was expected (plus the real time its packets
      // stopped for), or by the shift another track just took for the same jump.
      const int64_t delta = dts - expected;
      if (jump_.valid && jump_.track != track && std::llabs(delta - jump_.delta) < kSameJumpUs &&
          std::llabs(last - jump_.at) < kSameJumpWindowUs) {
        tr.offset += jump_.shift;
      } else {
        const int64_t target = std::max(expected, last + Since(tr.last_seen));
        if (target - expected > kGapUs) out->gap_from = expected;
        tr.offset += target - dts;
        jump_ = {true, track, target, delta, target - dts};
      }
    } else if (dts - expected > kGapUs) {
      out->gap_from = expected;  // a hole within one connection: reported like any other
    }
  }
  tr.placed = true;

  int64_t dts = raw_dts + tr.offset;
  int64_t pts = raw_pts + tr.offset;
  const int64_t last = tr.last_dts;
  // Muxers need strictly increasing dts per track; small backward steps are jitter, clamp them.
  if (last != INT64_MIN && dts < last + kMinStepUs) dts = last + kMinStepUs;
  if (pts < dts || pts - dts > kMaxReorderUs) pts = dts;
  if (last != INT64_MIN && dts - last < kGapUs) tr.est_dur = dts - last;
  if (dur <= 0) dur = tr.est_dur;
  if (out->gap_from != INT64_MIN && out->gap_from >= dts) out->gap_from = INT64_MIN;

  tr.last_dts = dts;
  tr.last_seen = last_seen_ = Clock::now();
  newest_ = std::max(newest_, pts + dur);
  *out = {pts, dts, dur, out->gap_from, raw_pts};
  return true;
}

}  // namespace avr
