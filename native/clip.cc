#include "clip.h"

#include <algorithm>
#include <cstring>

#include "errors.h"

namespace avr {

namespace {

// A track this far behind the key track has stopped delivering (an announced audio track that sends
// nothing): a post-roll save does not wait for it.
constexpr int64_t kStalledTrackUs = 5'000'000;

bool SameParams(const AVCodecParameters* a, const AVCodecParameters* b) {
  if (a->codec_id != b->codec_id || a->extradata_size != b->extradata_size) return false;
  if (a->extradata_size && memcmp(a->extradata, b->extradata, a->extradata_size) != 0) return false;
  if (a->codec_type == AVMEDIA_TYPE_VIDEO) return a->width == b->width && a->height == b->height;
  return a->sample_rate == b->sample_rate && a->ch_layout.nb_channels == b->ch_layout.nb_channels;
}

// A later connection's packets may go into the same file only if a decoder set up from the first
// connection's parameters can decode them.
bool Compatible(const SessionParams& a, const SessionParams& b, int track) {
  if (a == b) return true;
  if (!a || !b || track >= (int)a->size() || track >= (int)b->size()) return false;
  const auto& pa = (*a)[track].par;
  const auto& pb = (*b)[track].par;
  return pa && pb && SameParams(pa.get(), pb.get());
}

}  // namespace

ClipPlan PlanClip(const RangeResult& range, int64_t to) {
  const auto& pk = range.packets;
  const int key = range.key_track;
  size_t s = 0;
  while (s < pk.size() && !(pk[s].track == key && pk[s].key)) s++;
  if (s == pk.size()) {
    // A tail-only query (finality checks) may start mid-GOP: its first key-track packet will do there.
    s = 0;
    while (s < pk.size() && pk[s].track != key) s++;
    if (s == pk.size()) Fail(code::kRangeNotBuffered, "The requested range holds no keyframe");
  }
  const RingEntry& first = pk[s];
  ClipPlan plan;
  plan.start = first.pts;

  auto in_file = [&](const RingEntry& e) {
    return first.session && e.track < (int)first.session->size() && (*first.session)[e.track].par;
  };
  // A reconnect that changed a codec ends the clip there: everything before it is a finished stream.
  // (Tracks the clip's first connection lacked are not in the file, so they cannot end it.)
  size_t limit = pk.size();
  for (size_t i = s; i < pk.size(); i++) {
    if (in_file(pk[i]) && !Compatible(first.session, pk[i].session, pk[i].track)) {
      limit = i;
      break;
    }
  }
  const bool cut_by_session = limit < pk.size();

  // Key track: the smallest decode-order prefix holding every frame presented before T, with T grown
  // until that prefix also holds every frame presented before its own last frame.
  std::vector<size_t> frames;
  for (size_t i = s; i < limit; i++)
    if (pk[i].track == key) frames.push_back(i);
  // The fixpoint from a first bound: returns the bound it settles at, `last` the kept prefix's end.
  size_t last = 0;  // frames[0..last] are kept
  auto settle = [&](int64_t bound) {
    for (;;) {
      size_t l = 0;
      for (size_t k = 0; k < frames.size(); k++)
        if (pk[frames[k]].pts < bound) l = k;
      int64_t shown = INT64_MIN;
      for (size_t k = 0; k <= l; k++) shown = std::max(shown, pk[frames[k]].pts);
      last = l;
      if (shown < bound) return bound;
      bound = shown + 1;
    }
  };
  int64_t bound = settle(to);
  // A frame still to come decodes after the newest buffered one, so it cannot be presented before that
  // frame's dts: up to there, the buffered frames are all there will be. A clip saved before its tail is
  // final (saveLast on a live source, a source that ended) ends where that holds, so that its tail has no
  // hole where B-frames were still to come.
  const int64_t key_dts = key < (int)range.newest_dts.size() ? range.newest_dts[key] : INT64_MIN;
  if (!cut_by_session && range.connected && key_dts != INT64_MIN && bound > key_dts + 1) {
    std::vector<int64_t> shown;
    for (size_t f : frames)
      if (pk[f].pts <= key_dts) shown.push_back(pk[f].pts + 1);
    std::sort(shown.rbegin(), shown.rend());
    for (int64_t b : shown) {
      if (b > bound) continue;
      if (settle(b) <= key_dts + 1) break;
    }
  }
  int64_t key_end = plan.start;
  for (size_t k = 0; k <= last; k++) {
    plan.keep.push_back(frames[k]);
    key_end = std::max(key_end, pk[frames[k]].pts + pk[frames[k]].duration);
  }

  // Other tracks: presented from the keyframe up to the key track's end.
  for (size_t i = 0; i < limit; i++) {
    const RingEntry& e = pk[i];
    if (e.track == key || !in_file(e)) continue;
    if (i >= s ? !Compatible(first.session, e.session, e.track) : e.session != first.session) continue;
    if (e.pts >= plan.start && e.pts < key_end) plan.keep.push_back(i);
  }
  std::sort(plan.keep.begin(), plan.keep.end());
  plan.end = plan.start;
  for (size_t i : plan.keep) plan.end = std::max(plan.end, pk[i].pts + pk[i].duration);

  // Final when no packet still to come can belong to the clip: every track has buffered a packet that
  // decodes at or after the bound (later packets present later still: pts >= dts).
  plan.complete = true;
  // Cut by a reconnect, or no connection open: nothing still to come can join the clip.
  if (!cut_by_session && range.connected) {
    for (int t = 0; t < range.tracks; t++) {
      const bool present = t < (int)range.present.size() && range.present[t];
      if (!present) continue;
      const int64_t dts = range.newest_dts[t];
      const int64_t need = t == key ? bound : key_end;
      if (dts >= need) continue;
      if (t != key && key_dts != INT64_MIN && key_dts - std::max(dts, need) > kStalledTrackUs) continue;
      plan.complete = false;
    }
  }
  return plan;
}

ClipResult WriteClip(const RangeResult& range, const ClipPlan& plan, const MuxOptions& opts) {
  if (plan.keep.empty()) Fail(code::kRangeNotBuffered, "The requested range holds no packets");
  const auto& pk = range.packets;
  const SessionParams& session = pk[plan.keep.front()].session;
  ClipResult r;
  std::vector<bool> used(session ? session->size() : 0, false);
  for (size_t i : plan.keep)
    if (pk[i].track < (int)used.size()) used[pk[i].track] = true;
  for (size_t t = 0; t < used.size(); t++) {
    const TrackParams& tp = (*session)[t];
    r.tracks.push_back({used[t] ? CopyParams(tp.par.get()) : nullptr, tp.type});
  }
  Muxer mux(opts, r.tracks);
  for (size_t i : plan.keep) {
    const RingEntry& e = pk[i];
    mux.Write(e.track, e.pkt, e.pts - plan.start, e.dts - plan.start, e.duration);
  }
  r.mux = mux.Close();
  r.start = plan.start;
  r.end = plan.end;
  for (const Gap& g : range.gaps)
    if (g.from >= plan.start && g.to <= plan.end) r.gaps++;
  if (!range.wall.empty()) {
    r.start_wall = range.wall.Wall(plan.start);
    r.end_wall = range.wall.Wall(plan.end);
  }
  return r;
}

}  // namespace avr
