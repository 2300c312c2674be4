#include "footage.h"

#include <algorithm>
#include <climits>
#include <set>

#include "bsf.h"
#include "clip.h"
#include "errors.h"
#include "input.h"
#include "js_convert.h"
#include "promise_worker.h"

namespace avr {

namespace {

enum Slot { kVideo = 0, kAudio = 1 };

// The packets' own formats differ between a container and the ring: an mp4 segment holds H.264/HEVC
// length-prefixed (avcC) where a live source gives Annex B, and raw AAC where MPEG-TS gives ADTS. One
// clip needs one format per track (EnsureOut chooses the video's); audio is raw.
bool LengthPrefixed(const AVCodecParameters* p) { return NalLengthSize(p) > 0; }

struct Knot {
  int64_t axis, wall;  // µs
};

class FootageWriter {
 public:
  FootageWriter(const FootageRequest& req, std::shared_ptr<PacketRing> ring) : req_(req), ring_(std::move(ring)) {}

  FootageResult Run() {
    FindMemory();
    Anchor();
    Knots();
    from_ = AxisOf(req_.from);
    to_ = AxisOf(req_.to);
    const int64_t disk_to = mem_ ? std::min(to_, wm_) : to_;
    std::vector<const FootageSegment*> segs;
    if (!mem_ || from_ < wm_)
      for (const FootageSegment& s : req_.segments) {
        // The segment being written holds its last fragment (and the audio that trails it) in memory
        // until it is flushed: where the buffer has all of it, the buffer's copy is the one to use.
        const int64_t a0 = SegAxis0(s);
        if (!s.complete && mem_ && a0 >= wm_) continue;
        if (a0 < disk_to && a0 + std::max<int64_t>(s.duration, 1) > from_) segs.push_back(&s);
      }
    if (segs.empty() && !mem_) Fail(code::kRangeNotBuffered, "Nothing on disk or in memory covers that range");
    AudioParams(segs);
    // The first segment that has a keyframe (and can be read) starts the clip.
    while (!segs.empty() && (start_axis_ = StartKeyframe(*segs.front())) == INT64_MIN) segs.erase(segs.begin());
    if (!segs.empty()) {
      for (const FootageSegment* s : segs) Disk(*s, disk_to);
      FlushPending(true);
    }
    if (mem_ && to_ > wm_) Memory();
    if (!out_) Fail(code::kRangeNotBuffered, "Nothing on disk or in memory covers that range");
    FootageResult r;
    r.mux = out_->Close();
    r.start_wall = WallOf(base_);
    r.end_wall = WallOf(last_);
    r.duration = last_ - base_;
    r.tracks = std::move(tracks_);
    // The span on this recorder's timeline, where this run's packets place it (not when the clip
    // starts in another run's segment).
    const bool ours = segs.empty() || segs.front()->timeline_start != INT64_MIN;
    if (mem_ && ours) {
      r.timeline_start = tm_ + (base_ - wm_);
      r.timeline_end = tm_ + (last_ - wm_);
    } else if (!segs.empty() && ours) {
      r.timeline_start = segs.front()->timeline_start + (base_ - SegAxis0(*segs.front()));
      r.timeline_end = r.timeline_start + r.duration;
    }
    r.disk_us = disk_last_ > disk_first_ ? disk_last_ - disk_first_ : 0;
    r.memory_us = mem_last_ > mem_first_ ? mem_last_ - mem_first_ : 0;
    Missing(segs, &r);
    return r;
  }

 private:
  // The memory buffer's part: from its first keyframe at or after the range's start (or the oldest).
  void FindMemory() {
    if (!ring_ || !ring_->HasWallClock()) return;
    const RingStats st = ring_->Stats();
    if (st.empty || !st.has_wall) return;
    const int64_t tto = ring_->WallToTimeline(req_.to);
    if (tto <= st.oldest) return;
    RangeQuery q;
    q.from = std::max(ring_->WallToTimeline(std::max(req_.from, st.oldest_wall)), st.oldest);
    q.to = tto;
    try {
      range_ = ring_->Query(q);
    } catch (const Exception&) {
      return;
    }
    for (const RingEntry& e : range_.packets)
      if (e.track == range_.key_track && e.key) {
        tm_ = e.pts;
        tm_dts_ = e.dts;
        break;
      }
    if (tm_ == INT64_MIN) return;
    wm_ = ring_->TimelineToWall(tm_);
    tto_ = tto;
    mem_ = true;
    // Where the memory's audio begins: the disk gives the audio before it. (Audio that arrived before
    // the memory's first keyframe may have left the buffer with the GOP before it, though presented after.)
    audio_cut_ = tm_;
    for (const RingEntry& e : range_.packets) {
      const TrackParams& tp = (*e.session)[e.track];
      if (tp.type == AVMEDIA_TYPE_AUDIO && e.pts >= tm_) {
        audio_cut_ = e.pts;
        break;
      }
    }
    newest_ = range_.newest;
  }

  // Request times are wall-clock times; the clip's axis is this run's timeline where this run's packets
  // take part (placed at the memory's first keyframe's wall time), the wall clock elsewhere. The two
  // differ by how the wall-clock estimate was steered since (most at a connection's start, while it
  // settles). Knots (axis, wall) at each segment's edges and the memory's carry one into the other.
  void Knots() {
    std::vector<std::pair<int64_t, int64_t>> k;  // (wall, axis)
    for (const FootageSegment& s : req_.segments) {
      const int64_t a0 = SegAxis0(s);
      k.push_back({s.start_wall, a0});
      k.push_back({std::max(s.end_wall, s.start_wall), a0 + s.duration});
    }
    if (mem_) {
      k.push_back({wm_, wm_});
      if (newest_ > tm_) k.push_back({ring_->TimelineToWall(newest_), wm_ + (newest_ - tm_)});
    }
    std::sort(k.begin(), k.end());
    for (const auto& [w, a] : k)
      if (knots_.empty() || (w > knots_.back().wall && a > knots_.back().axis)) knots_.push_back({a, w});
  }

  // Linear between knots, one for one beyond them.
  template <int64_t Knot::*In, int64_t Knot::*Out>
  int64_t Map(int64_t v) const {
    if (knots_.empty()) return v;
    if (v <= knots_.front().*In) return knots_.front().*Out + (v - knots_.front().*In);
    for (size_t i = 1; i < knots_.size(); i++) {
      const Knot &a = knots_[i - 1], &b = knots_[i];
      if (v > b.*In) continue;
      return a.*Out + (int64_t)((double)(v - a.*In) * (double)(b.*Out - a.*Out) / (double)(b.*In - a.*In));
    }
    return knots_.back().*Out + (v - knots_.back().*In);
  }
  int64_t AxisOf(int64_t wall) const { return Map<&Knot::wall, &Knot::axis>(wall); }
  int64_t WallOf(int64_t axis) const { return Map<&Knot::axis, &Knot::wall>(axis); }

  struct Reader {
    InputPtr ic;
    int v = -1, a = -1;
    int64_t origin = 0;  // µs of the segment's first packet in the file's own time
  };

  // False for a segment that cannot be read (deleted by retention meanwhile, damaged): a part of the
  // range nothing covers, not a failure of the whole clip.
  bool Open(const FootageSegment& s, Reader* out) {
    if (unreadable_.count(&s)) return false;
    try {
      *out = OpenReader(s);
      return true;
    } catch (const Exception&) {
      unreadable_.insert(&s);
      return false;
    }
  }

  Reader OpenReader(const FootageSegment& s) {
    InputRequest in;
    in.url = s.url;
    Reader r;
    r.ic = OpenInput(in);
    r.v = av_find_best_stream(r.ic.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    r.a = av_find_best_stream(r.ic.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    const AVStream* st = r.ic->streams[r.v >= 0 ? r.v : std::max(r.a, 0)];
    if (st->start_time != AV_NOPTS_VALUE) r.origin = av_rescale_q(st->start_time, st->time_base, kMicros);
    return r;
  }

  // Seeks to 10 s before the axis instant `at` (within the segment that starts at axis a0), so a clip from
  // the middle of a 10-minute segment does not read the segment from its start. The margin covers a
  // container's imprecise seek (MPEG-TS bisects by timestamps) and GOPs up to 10 s; the readers scan on
  // from there. A container that cannot seek is read from its start again.
  void SeekNear(const FootageSegment& s, Reader* r, int64_t a0, int64_t at) {
    const int64_t ts = at - a0 + r->origin - 10'000'000;
    if (ts <= r->origin) return;
    if (av_seek_frame(r->ic.get(), -1, ts, AVSEEK_FLAG_BACKWARD) < 0) Open(s, r);
  }

  // The axis: wall-clock µs. A segment this run wrote is placed through the timeline from the anchor (as
  // the memory is), so its packets, its neighbours' and the ring's line up exactly.
  int64_t SegAxis0(const FootageSegment& s) const {
    return anchor_t_ != INT64_MIN && s.timeline_start != INT64_MIN ? anchor_w_ + (s.timeline_start - anchor_t_) : s.start_wall;
  }

  // Where this run's timeline meets the wall clock on the axis: the memory's first keyframe, or without
  // memory, the first of this run's segments. Each segment's own wall-clock start would place them by
  // a clock that may have been steered between them: consecutive segments would overlap or part.
  void Anchor() {
    if (mem_) {
      anchor_t_ = tm_;
      anchor_w_ = wm_;
      return;
    }
    for (const FootageSegment& s : req_.segments)
      if (s.timeline_start != INT64_MIN) {
        anchor_t_ = s.timeline_start;
        anchor_w_ = s.start_wall;
        return;
      }
  }

  // The video keyframe at or before `from` in the first segment (or its first keyframe).
  int64_t StartKeyframe(const FootageSegment& s) {
    Reader r;
    if (!Open(s, &r)) return INT64_MIN;
    PacketPtr pkt = MakePacket();
    const int64_t a0 = SegAxis0(s);
    SeekNear(s, &r, a0, from_);
    int64_t best = INT64_MIN, first = INT64_MIN;
    while (av_read_frame(r.ic.get(), pkt.get()) >= 0) {
      const AVStream* st = r.ic->streams[pkt->stream_index];
      const bool key = pkt->stream_index == (r.v >= 0 ? r.v : r.a) && (pkt->flags & AV_PKT_FLAG_KEY);
      const int64_t t = pkt->pts == AV_NOPTS_VALUE ? INT64_MIN : a0 + av_rescale_q(pkt->pts, st->time_base, kMicros) - r.origin;
      av_packet_unref(pkt.get());
      if (!key || t == INT64_MIN) continue;
      if (first == INT64_MIN) first = t;
      if (t > from_) break;
      best = t;
    }
    return best != INT64_MIN ? best : first;
  }

  // The clip's audio parameters (raw AAC with its config): the first segment that has audio (a segment
  // opened before any audio arrived has none), else the memory's, made raw from its first packet.
  void AudioParams(const std::vector<const FootageSegment*>& segs) {
    for (const FootageSegment* s : segs) {
      Reader r;
      if (Open(*s, &r) && r.a >= 0) {
        audio_ = CopyParams(r.ic->streams[r.a]->codecpar);
        return;
      }
    }
    if (!mem_) return;
    for (const RingEntry& e : range_.packets) {
      const TrackParams& tp = (*e.session)[e.track];
      if (tp.type != AVMEDIA_TYPE_AUDIO || !tp.par) continue;
      if (tp.par->codec_id == AV_CODEC_ID_AAC && tp.par->extradata_size == 0) {
        Bsf b("aac_adtstoasc", tp.par.get());
        PacketPtr p = MakePacket();
        e.pkt.Fill(p.get());
        if (b.Filter(p.get())) audio_ = b.Params();
      } else {
        audio_ = CopyParams(tp.par.get());
      }
      return;
    }
  }

  void EnsureOut(const AVCodecParameters* v, const AVCodecParameters* a) {
    if (out_) return;
    if (audio_) a = audio_.get();
    // Video as the disk holds it when that is length-prefixed (mp4 segments: the larger part is copied
    // as it is and the memory's packets are converted), else in the ring's format (Annex B: the muxer
    // converts it). Audio raw.
    const AVCodecParameters* vp = v;
    if (mem_ && range_.packets.size() && !(v && NalLengthSize(v) == 4)) {
      const SessionParams& sp = range_.packets.front().session;
      for (const TrackParams& t : *sp)
        if (t.type == AVMEDIA_TYPE_VIDEO && t.par) vp = t.par.get();
    }
    tracks_.resize(2);
    tracks_[kVideo] = {CopyParams(vp), AVMEDIA_TYPE_VIDEO};
    tracks_[kAudio] = {CopyParams(a), AVMEDIA_TYPE_AUDIO};
    out_ = std::make_unique<Muxer>(req_.mux, tracks_);
    if (base_ == INT64_MIN) base_ = start_axis_;
  }

  void Write(int slot, const PacketData& d, int64_t pts, int64_t dts, int64_t dur, bool disk) {
    if (!tracks_[slot].par) return;
    out_->Write(slot, d, pts - base_, dts - base_, dur);
    last_ = std::max(last_, pts + dur);
    int64_t& first = disk ? disk_first_ : mem_first_;
    int64_t& last = disk ? disk_last_ : mem_last_;
    first = std::min(first, pts);
    last = std::max(last, pts + dur);
  }

  struct Pending {
    int slot;
    PacketData data;
    int64_t pts, dts, dur;
  };

  // Disk-only end: every video packet up to the last (in decode order) presented before `to`, so the
  // frames those need are in too; pending holds the ones presented after it until that is known.
  void FlushPending(bool end) {
    if (end) pending_.clear();
    for (Pending& p : pending_) Write(p.slot, p.data, p.pts, p.dts, p.dur, true);
    pending_.clear();
  }

  void Disk(const FootageSegment& s, int64_t disk_to) {
    Reader r;
    if (!Open(s, &r)) return;
    const AVCodecParameters* vpar = r.v >= 0 ? r.ic->streams[r.v]->codecpar : nullptr;
    const AVCodecParameters* apar = r.a >= 0 ? r.ic->streams[r.a]->codecpar : nullptr;
    EnsureOut(vpar, apar);
    std::unique_ptr<Bsf> annexb;
    const AVCodecParameters* outv = tracks_[kVideo].par.get();
    const bool to_length = vpar && outv && !LengthPrefixed(vpar) && NalLengthSize(outv) == 4;  // ts after mp4
    if (vpar && outv && LengthPrefixed(vpar) && !LengthPrefixed(outv))
      annexb = std::make_unique<Bsf>(vpar->codec_id == AV_CODEC_ID_HEVC ? "hevc_mp4toannexb" : "h264_mp4toannexb", vpar);
    const bool same_run = mem_ && s.timeline_start != INT64_MIN;
    const int64_t a0 = SegAxis0(s);
    if (a0 < start_axis_) SeekNear(s, &r, a0, start_axis_);
    const bool tail = !mem_ || to_ <= wm_;  // this disk part ends the clip
    bool started = start_axis_ != INT64_MIN && a0 > start_axis_;  // a later segment starts past the start
    PacketPtr pkt = MakePacket();
    int after = 0;  // video packets in a row presented at or after `to`
    int64_t video_done = INT64_MIN;  // the first video packet past the memory's cut
    while (av_read_frame(r.ic.get(), pkt.get()) >= 0) {
      const int idx = pkt->stream_index;
      const int slot = idx == r.v ? kVideo : idx == r.a ? kAudio : -1;
      if (slot < 0 || pkt->pts == AV_NOPTS_VALUE) {
        av_packet_unref(pkt.get());
        continue;
      }
      const AVStream* st = r.ic->streams[idx];
      av_packet_rescale_ts(pkt.get(), st->time_base, kMicros);
      const int64_t pts = a0 + pkt->pts - r.origin;
      const int64_t dts = a0 + (pkt->dts == AV_NOPTS_VALUE ? pkt->pts : pkt->dts) - r.origin;
      const int64_t dur = std::max<int64_t>(pkt->duration, 0);
      if (!started) {
        // From the start keyframe on (audio: what is presented from it on).
        if (slot == kVideo && (pkt->flags & AV_PKT_FLAG_KEY) && pts >= start_axis_) started = true;
        if (!started || (slot == kAudio && pts < start_axis_)) {
          av_packet_unref(pkt.get());
          continue;
        }
      }
      if (slot == kAudio && pts < start_axis_) {
        av_packet_unref(pkt.get());
        continue;
      }
      // Where memory takes over: this run's packets by the timeline, others by the clock. A packet within
      // half its length of the cut is the memory's first (a segment stores durations, so its times can
      // differ from the ring's by a rounding). The audio that trails the last video packet before the cut
      // is read on (a second at most).
      if (mem_) {
        const int64_t at = same_run ? s.timeline_start + ((slot == kAudio ? pts : dts) - a0) : (slot == kAudio ? pts : dts);
        // (Video by decode time: the memory's keyframe decodes at tm_dts_.)
        const int64_t cut = same_run ? (slot == kAudio ? audio_cut_ : tm_dts_) : wm_ + ((slot == kAudio ? audio_cut_ : tm_dts_) - tm_);
        if (at + dur / 2 >= cut) {
          av_packet_unref(pkt.get());
          if (slot == kVideo) {
            if (video_done == INT64_MIN) video_done = at;
            if (r.a < 0 || at - video_done > 1'000'000) break;
          } else if (video_done != INT64_MIN) {
            break;
          }
          continue;
        }
      }
      if (slot == kVideo && annexb && !annexb->Filter(pkt.get())) continue;
      if (slot == kVideo && to_length) AnnexBToLengthPrefixed(pkt.get());
      PacketData d = PacketData::Take(pkt.get());
      if (tail && slot == kVideo) {
        if (pts >= disk_to) {
          pending_.push_back({slot, std::move(d), pts, dts, dur});
          if (++after > 16) break;  // past any reordering: nothing later is presented before `to`
          continue;
        }
        after = 0;
        FlushPending(false);  // a frame before `to` after them: they are references it needs
      } else if (tail && slot == kAudio && pts >= disk_to) {
        continue;
      }
      Write(slot, d, pts, dts, dur, true);
    }
  }

  void Memory() {
    const ClipPlan plan = PlanClip(range_, tto_);
    const auto& pk = range_.packets;
    if (plan.keep.empty()) return;
    if (!out_) {
      // Memory alone: the clip starts at its keyframe at or before `from`.
      const SessionParams& sp = pk[plan.keep.front()].session;
      const AVCodecParameters *v = nullptr, *a = nullptr;
      for (const TrackParams& t : *sp) {
        if (t.type == AVMEDIA_TYPE_VIDEO && t.par) v = t.par.get();
        if (t.type == AVMEDIA_TYPE_AUDIO && t.par) a = t.par.get();
      }
      base_ = wm_ + (plan.start - tm_);
      start_axis_ = base_;
      EnsureOut(v, a);
    }
    // Raw AAC on disk, ADTS in the ring (MPEG-TS sources): strip the headers. Annex B video where the
    // clip is length-prefixed: prefix it.
    std::unique_ptr<Bsf> adts;
    const AVCodecParameters* outv = tracks_[kVideo].par.get();
    for (size_t i : plan.keep) {
      const RingEntry& e = pk[i];
      const TrackParams& tp = (*e.session)[e.track];
      const int slot = tp.type == AVMEDIA_TYPE_VIDEO ? kVideo : kAudio;
      const int64_t pts = wm_ + (e.pts - tm_), dts = wm_ + (e.dts - tm_);
      if (slot == kAudio && tracks_[kAudio].par && tracks_[kAudio].par->extradata_size > 0 && tp.par->extradata_size == 0 &&
          tp.par->codec_id == AV_CODEC_ID_AAC) {
        if (!adts) adts = std::make_unique<Bsf>("aac_adtstoasc", tp.par.get());
        PacketPtr p = MakePacket();
        e.pkt.Fill(p.get());
        if (!adts->Filter(p.get())) continue;
        Write(slot, PacketData::Take(p.get()), pts, dts, e.duration, false);
        continue;
      }
      if (slot == kVideo && outv && NalLengthSize(outv) == 4 && !LengthPrefixed(tp.par.get())) {
        PacketPtr p = MakePacket();
        e.pkt.Fill(p.get());
        AnnexBToLengthPrefixed(p.get());
        Write(slot, PacketData::Take(p.get()), pts, dts, e.duration, false);
        continue;
      }
      Write(slot, e.pkt, pts, dts, e.duration, false);
    }
  }

  // What nothing covers: [from, to) less the segments' spans and the memory's.
  void Missing(const std::vector<const FootageSegment*>& segs, FootageResult* r) {
    std::vector<std::pair<int64_t, int64_t>> cover;
    for (const FootageSegment* s : segs)
      if (!unreadable_.count(s)) cover.push_back({SegAxis0(*s), SegAxis0(*s) + s->duration});
    if (mem_) cover.push_back({wm_, wm_ + (newest_ - tm_)});
    std::sort(cover.begin(), cover.end());
    int64_t at = std::max(from_, base_);
    auto miss = [&](int64_t a, int64_t b) { r->missing.push_back({WallOf(a), WallOf(b)}); };
    if (base_ > from_ + 100'000) miss(from_, base_);
    for (const auto& c : cover) {
      if (c.first > at + 100'000 && c.first < to_) {
        miss(at, std::min(c.first, to_));
        if (at > base_ && c.first < last_) r->gaps++;  // a hole inside the clip
      }
      at = std::max(at, c.second);
    }
    if (at + 100'000 < to_) miss(at, to_);
    // The memory's own holes (reconnects) inside the clip.
    if (mem_)
      for (const Gap& g : range_.gaps) {
        const int64_t a = wm_ + (g.from - tm_), b = wm_ + (g.to - tm_);
        if (a > base_ && b < last_) r->gaps++;
      }
  }

  const FootageRequest& req_;
  std::shared_ptr<PacketRing> ring_;
  RangeResult range_;
  bool mem_ = false;
  int64_t tm_ = INT64_MIN, tm_dts_ = INT64_MIN, wm_ = INT64_MAX, tto_ = 0;
  int64_t anchor_t_ = INT64_MIN, anchor_w_ = 0;  // this run's timeline µs and its place on the axis
  std::set<const FootageSegment*> unreadable_;
  int64_t audio_cut_ = INT64_MIN, newest_ = INT64_MIN;  // timeline µs
  std::vector<Knot> knots_;
  int64_t from_ = 0, to_ = 0;  // the request on the clip's axis
  int64_t start_axis_ = INT64_MIN, base_ = INT64_MIN, last_ = INT64_MIN;
  int64_t disk_first_ = INT64_MAX, disk_last_ = INT64_MIN, mem_first_ = INT64_MAX, mem_last_ = INT64_MIN;
  std::vector<TrackParams> tracks_;
  ParamsPtr audio_;
  std::unique_ptr<Muxer> out_;
  std::vector<Pending> pending_;
};

class FootageWorker : public PromiseWorker {
 public:
  FootageWorker(Napi::Env env, FootageRequest req, std::shared_ptr<PacketRing> ring)
      : PromiseWorker(env, "av-rewind:footage", code::kWrite), req_(std::move(req)), ring_(std::move(ring)) {}

 private:
  void Run() override { r_ = WriteFootage(req_, std::move(ring_)); }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", req_.mux.path);
    o.Set("format", r_.mux.format);
    o.Set("startTime", Napi::Number::New(env, r_.start_wall / 1e3));
    o.Set("endTime", Napi::Number::New(env, r_.end_wall / 1e3));
    o.Set("duration", Seconds(env, r_.duration));
    o.Set("bytes", Napi::Number::New(env, (double)r_.mux.bytes));
    o.Set("packets", Napi::Number::New(env, (double)r_.mux.packets));
    o.Set("dropped", Napi::Number::New(env, (double)r_.mux.dropped));
    o.Set("gaps", Napi::Number::New(env, (double)r_.gaps));
    o.Set("streams", StreamsToJs(env, r_.tracks));
    if (r_.timeline_start != INT64_MIN) {
      o.Set("timelineStart", Seconds(env, r_.timeline_start));
      o.Set("timelineEnd", Seconds(env, r_.timeline_end));
    }
    Napi::Object src = Napi::Object::New(env);
    src.Set("disk", Seconds(env, r_.disk_us));
    src.Set("memory", Seconds(env, r_.memory_us));
    o.Set("sources", src);
    Napi::Array miss = Napi::Array::New(env, r_.missing.size());
    for (size_t i = 0; i < r_.missing.size(); i++) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("from", Napi::Number::New(env, r_.missing[i].first / 1e3));
      m.Set("to", Napi::Number::New(env, r_.missing[i].second / 1e3));
      miss.Set((uint32_t)i, m);
    }
    o.Set("missing", miss);
    return o;
  }

  FootageRequest req_;
  std::shared_ptr<PacketRing> ring_;
  FootageResult r_;
};

}  // namespace

FootageResult WriteFootage(const FootageRequest& req, std::shared_ptr<PacketRing> ring) {
  return FootageWriter(req, std::move(ring)).Run();
}

Napi::Promise QueueFootage(Napi::Env env, FootageRequest req, std::shared_ptr<PacketRing> ring) {
  auto* w = new FootageWorker(env, std::move(req), std::move(ring));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

FootageRequest FootageFromJs(const Napi::Object& o) {
  FootageRequest r;
  r.mux.path = Str(o, "path");
  r.mux.format = Str(o, "format");
  r.from = Micros(Num(o, "from", 0) / 1e3);
  r.to = Micros(Num(o, "to", 0) / 1e3);
  Napi::Value segs = o.Get("segments");
  if (segs.IsArray()) {
    Napi::Array a = segs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Object s = a.Get(i).As<Napi::Object>();
      FootageSegment f;
      f.url = Str(s, "url");
      f.start_wall = Micros(Num(s, "startTime", 0) / 1e3);
      f.duration = Micros(Num(s, "duration", 0));
      f.end_wall = s.Get("endTime").IsNumber() ? Micros(Num(s, "endTime", 0) / 1e3) : f.start_wall + f.duration;
      if (s.Get("timelineStart").IsNumber()) f.timeline_start = Micros(Num(s, "timelineStart", 0));
      f.complete = Bool(s, "complete", true);
      r.segments.push_back(f);
    }
  }
  return r;
}

Napi::Value FootageBinding(const Napi::CallbackInfo& info) {
  return QueueFootage(info.Env(), FootageFromJs(info[0].As<Napi::Object>()), nullptr);
}

}  // namespace avr
