#include "timeline.h"

#include <algorithm>

namespace avr {

namespace {
// A jump larger than these within one connection is a discontinuity (HLS #EXT-X-DISCONTINUITY,
// a wrap libavformat did not correct, a restarted encoder), not a real pause.
constexpr int64_t kMaxBackUs = 500'000;
constexpr int64_t kMaxForwardUs = 5'000'000;
constexpr int64_t kGapUs = 1'000'000;  // smaller holes are jitter, not worth reporting
// A clashing or backward dts is moved this far past its predecessor: 1 ms stays strictly increasing in
// every output time base (Matroska and FLV count milliseconds), so no muxer refuses the packet.
constexpr int64_t kMinStepUs = 1000;
// No codec presents a frame this long after it decodes (B-frame reordering is well under a second): a
// pts further ahead than this is corrupt, and must not move the buffer's newest instant (and evict it).
constexpr int64_t kMaxReorderUs = 5'000'000;
}  // namespace

int64_t Timeline::Elapsed() const {
  if (last_seen_.time_since_epoch().count() == 0) return 0;
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - last_seen_)
      .count();
}

bool Timeline::Map(int track, const AVPacket* pkt, AVRational tb, int wrap_bits, Mapped* out) {
  int64_t dur = pkt->duration > 0 ? av_rescale_q(pkt->duration, tb, kMicros) : est_dur_[track];
  int64_t pkt_dts = pkt->dts, pkt_pts = pkt->pts;
  if (wrap_bits > 0 && wrap_bits < 63) {
    // Unwrap exactly (MPEG-TS: 33 bits) where libavformat did not: a backward jump of about the whole
    // range is a wrap, not a discontinuity, and every track wraps by the same amount.
    const int64_t range = int64_t(1) << wrap_bits;
    const int64_t cur = pkt_dts != AV_NOPTS_VALUE ? pkt_dts : pkt_pts;
    if (cur != AV_NOPTS_VALUE) {
      if (last_raw_[track] != AV_NOPTS_VALUE && cur < last_raw_[track] - range / 2) wrap_add_[track] += range;
      last_raw_[track] = cur;
    }
    if (pkt_dts != AV_NOPTS_VALUE) pkt_dts += wrap_add_[track];
    if (pkt_pts != AV_NOPTS_VALUE) {
      pkt_pts += wrap_add_[track];
      if (pkt_dts != AV_NOPTS_VALUE && pkt_pts < pkt_dts - range / 2) pkt_pts += range;  // pts wrapped first
    }
  }
  int64_t raw_dts, raw_pts;
  if (pkt_dts == AV_NOPTS_VALUE && pkt_pts == AV_NOPTS_VALUE) {
    // RTSP's first packets often carry no timestamp: place later ones after their predecessor.
    if (last_dts_[track] == INT64_MIN || !have_offset_) return false;
    raw_dts = raw_pts = last_dts_[track] + std::max<int64_t>(dur, 1) - offset_;
  } else {
    raw_dts = av_rescale_q(pkt_dts != AV_NOPTS_VALUE ? pkt_dts : pkt_pts, tb, kMicros);
    raw_pts = av_rescale_q(pkt_pts != AV_NOPTS_VALUE ? pkt_pts : pkt_dts, tb, kMicros);
  }

  out->gap_from = INT64_MIN;
  auto reanchor = [&] {
    const int64_t step = std::max<int64_t>(dur, 1);
    if (!started_) {
      offset_ = -raw_pts;  // the first packet is a keyframe: its presentation time is 0
    } else {
      const int64_t target = newest_ + std::max(step, Elapsed());
      if (target - newest_ > kGapUs) out->gap_from = newest_;
      offset_ = target - raw_dts;
    }
    have_offset_ = true;
    started_ = true;
  };
  if (!have_offset_) reanchor();
  int64_t dts = raw_dts + offset_;
  const int64_t last = last_dts_[track];
  if (last != INT64_MIN && (dts < last - kMaxBackUs || dts > last + kMaxForwardUs + Elapsed())) {
    reanchor();
    dts = raw_dts + offset_;
  }
  int64_t pts = raw_pts + offset_;
  // Muxers need strictly increasing dts per track; small backward steps are jitter, clamp them.
  if (last != INT64_MIN && dts < last + kMinStepUs) dts = last + kMinStepUs;
  if (pts < dts || pts - dts > kMaxReorderUs) pts = dts;
  if (last != INT64_MIN && dts - last < 10 * 1000 * 1000) est_dur_[track] = dts - last;
  if (dur <= 0) dur = est_dur_[track];

  last_dts_[track] = dts;
  newest_ = std::max(newest_, pts + dur);
  last_seen_ = std::chrono::steady_clock::now();
  *out = {pts, dts, dur, out->gap_from, raw_pts};
  return true;
}

}  // namespace avr
