#include "frame_grab.h"

#include <climits>
#include <string>
#include <vector>

#include "errors.h"

namespace avr {

namespace {

// A GOP prefix longer than this is decoded with frame threads (fast, but frames come out only when
// drained), unless 'latest' grabs come at a steady rate and the cached decoder will go on from here.
constexpr size_t kColdPackets = 8;
constexpr int64_t kSteadyUs = 1'500'000;

void FillPacket(AVPacket* pkt, const RingEntry& e) {
  e.pkt.Fill(pkt);
  pkt->pts = e.pts;
  pkt->dts = e.dts;
  pkt->duration = e.duration;
  if (e.key) pkt->flags |= AV_PKT_FLAG_KEY;
}

struct Pick {
  FramePtr frame = MakeFrame();
  int64_t pts = INT64_MIN;
  bool key = false, have = false;
};

// Decodes `pk` (one connection's packets from a keyframe) on a fresh decoder and picks the frame on
// screen at t: frames come out in presentation order, so the last with pts <= t (the first frame when
// none is).
Pick DecodeFresh(const std::vector<const RingEntry*>& pk, const AVCodecParameters* par, int64_t t, bool one,
                 std::atomic<int64_t>* decoded) {
  // One packet: frame threads would only add their start-up. A GOP: use the cores.
  VideoDecoder dec(par, kMicros, one ? 1 : 0, decoded);
  Pick p;
  auto take = [&](AVFrame* f) {
    const int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    if (p.have && pts > t) return false;
    av_frame_unref(p.frame.get());
    av_frame_ref(p.frame.get(), f);
    p.pts = pts;
    p.key = f->key_frame;
    p.have = true;
    return pts <= t;
  };
  PacketPtr pkt = MakePacket();
  bool more = true;
  for (size_t i = 0; i < pk.size() && more && !(one && i > 0); i++) {
    FillPacket(pkt.get(), *pk[i]);
    more = dec.Decode(pkt.get(), take);
    av_packet_unref(pkt.get());
  }
  if (more) dec.Decode(nullptr, take);
  return p;
}

}  // namespace

// 'latest' on the cached decoder, which goes on from the packet the previous grab stopped at. Returns
// false when a fresh decode must answer: a one-off grab of a long GOP prefix (frame threads are faster),
// or a codec that holds frames back (B-frames) when grabs are not steady. At a steady rate (live
// previews) such a codec's answer is the newest frame it has given, which trails the newest packet by
// its reorder delay (1–2 frames); the result's timeline says which frame it is.
static bool LatestFromCache(FrameCache& c, const std::vector<const RingEntry*>& pk, const AVCodecParameters* par,
                            Pick* out) {
  const RingEntry& k = *pk[0];
  const int64_t now = av_gettime_relative();
  const bool steady = c.last_grab_us_ && now - c.last_grab_us_ < kSteadyUs;
  c.last_grab_us_ = now;
  const bool same = c.dec_ && c.session_ == k.session && c.key_dts_ == k.dts && c.fed_dts_ <= pk.back()->dts;
  if (!same) {
    c.dec_.reset();
    if (pk.size() > kColdPackets && !steady) return false;
    // One thread: each frame comes out as soon as the codec allows, not a thread pool later.
    c.dec_ = std::make_unique<VideoDecoder>(par, kMicros, 1, &c.decoded);
    c.session_ = k.session;
    c.key_dts_ = k.dts;
    c.fed_dts_ = INT64_MIN;
    c.best_ = MakeFrame();
    c.best_pts_ = INT64_MIN;
  }
  auto take = [&](AVFrame* f) {
    const int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    if (pts >= c.best_pts_) {
      av_frame_unref(c.best_.get());
      av_frame_ref(c.best_.get(), f);
      c.best_pts_ = pts;
      c.best_key_ = f->key_frame;
    }
    return true;
  };
  PacketPtr pkt = MakePacket();
  for (const RingEntry* e : pk) {
    if (e->dts <= c.fed_dts_) continue;
    FillPacket(pkt.get(), *e);
    c.dec_->Decode(pkt.get(), take);
    av_packet_unref(pkt.get());
    c.fed_dts_ = e->dts;
  }
  // Nothing out yet, or frames held back while grabs are rare: answer exactly, by a fresh decode and a
  // drain (the cached decoder stays as it is).
  if (c.best_pts_ == INT64_MIN || (c.dec_->held() > 0 && !steady)) return false;
  av_frame_ref(out->frame.get(), c.best_.get());
  out->pts = c.best_pts_;
  out->key = c.best_key_;
  out->have = true;
  return true;
}

Grabbed GrabFrame(const PacketRing& ring, const GrabOptions& o, FrameCache& cache) {
  RangeQuery q;
  q.slack = 0;
  const RingStats stats = ring.Stats();
  if (stats.empty) Fail(code::kRangeNotBuffered, "Nothing is buffered yet");
  // The frame on screen at t: the last presented at or before it. Every packet it needs decodes at or
  // before t (dts <= pts), from the keyframe at or before t.
  int64_t t = INT64_MAX;
  if (o.at == GrabOptions::At::kInstant) {
    t = o.t;
    if (t < stats.oldest || t >= stats.newest)
      Fail(code::kRangeNotBuffered, "No frame at " + std::to_string(t / 1e6) + " s: the buffer holds " +
                                        std::to_string(stats.oldest / 1e6) + " s to " + std::to_string(stats.newest / 1e6) +
                                        " s of the timeline");
    q.from = t;
    q.to = t + 1;  // [t, t]: packets decoding at or before t
  } else {
    q.from = stats.newest - 1;  // the keyframe at or before the newest instant
    q.to = INT64_MAX / 4;
  }
  RangeResult r = ring.Query(q);
  // Video is the key track when there is video at all. One connection's packets: a reconnect with other
  // parameters ends this GOP.
  const int vt = r.key_track;
  std::vector<const RingEntry*> pk;
  for (const RingEntry& e : r.packets)
    if (e.track == vt && (pk.empty() || e.session == pk[0]->session)) pk.push_back(&e);
  const TrackParams* tp = !pk.empty() && pk[0]->session && vt < (int)pk[0]->session->size() ? &(*pk[0]->session)[vt] : nullptr;
  if (!tp || !tp->par || tp->type != AVMEDIA_TYPE_VIDEO) Fail(code::kNoVideo, "The source has no video track");
  if (!pk[0]->key) Fail(code::kRangeNotBuffered, "No keyframe is buffered before that instant");

  const bool one = o.at == GrabOptions::At::kKeyframe || o.keyframe_only;  // the fast path: one decode
  Pick p;
  bool cached = false;
  if (o.at == GrabOptions::At::kLatest) {
    std::unique_lock<std::mutex> lock(cache.mu_, std::try_to_lock);  // busy: decode on our own
    if (lock.owns_lock()) cached = LatestFromCache(cache, pk, tp->par.get(), &p);
  }
  if (!cached) p = DecodeFresh(pk, tp->par.get(), one ? INT64_MAX : t, one, &cache.decoded);
  if (!p.have) Fail(code::kDecode, "No frame could be decoded there");

  Grabbed g;
  g.pts = p.pts;
  g.key = p.key;
  g.image = RenderImage(p.frame.get(), o.image);
  return g;
}

}  // namespace avr
