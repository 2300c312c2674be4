#include "packet_ring.h"

#include <algorithm>
#include <cstring>

#include "errors.h"

namespace avr {

namespace {

// Interleaving skew we tolerate between tracks when cutting a range (muxers keep it well under this).
constexpr int64_t kSkewUs = 2'000'000;

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
  if (track >= (int)a->size() || track >= (int)b->size()) return false;
  const auto& pa = (*a)[track].par;
  const auto& pb = (*b)[track].par;
  return pa && pb && SameParams(pa.get(), pb.get());
}

std::string Seconds(int64_t us) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", us / 1e6);
  return buf;
}

}  // namespace

void PacketRing::SetKeyTrack(int track) {
  std::lock_guard<std::mutex> lock(mu_);
  key_track_ = track;
}

bool PacketRing::Push(RingEntry&& e) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool is_key = e.track == key_track_ && e.key;
  if (entries_.empty() && !is_key) return false;  // the buffer always starts at a keyframe
  if (is_key) keys_.push_back(front_seq_ + entries_.size());
  bytes_ += e.pkt->size;
  total_bytes_ += e.pkt->size;
  total_packets_++;
  newest_ = std::max(newest_, e.pts + e.duration);
  entries_.push_back(std::move(e));
  EvictLocked();
  return true;
}

void PacketRing::EvictLocked() {
  // Whole GOPs only, like OBS's replay buffer: the oldest packet is always a keyframe.
  while (keys_.size() >= 2) {
    const int64_t span = newest_ - entries_.front().pts;
    if (span <= max_us_ && bytes_ <= max_bytes_) break;
    const uint64_t next = keys_[1];
    while (front_seq_ < next) {
      bytes_ -= entries_.front().pkt->size;
      entries_.pop_front();  // drops the ring's reference; a running save keeps its own
      front_seq_++;
      evicted_++;
    }
    keys_.pop_front();
  }
  // A single GOP over the caps (intra-refresh streams, one IDR per connection) cannot be trimmed
  // from the front: drop it rather than grow without bound, and start again at the next keyframe.
  if (keys_.size() == 1 && (bytes_ > max_bytes_ || newest_ - entries_.front().pts > 2 * max_us_)) {
    evicted_ += entries_.size();
    front_seq_ += entries_.size();
    entries_.clear();
    keys_.clear();
    bytes_ = 0;
  }
  if (entries_.empty()) return;
  const int64_t oldest = entries_.front().pts;
  while (anchors_.size() >= 2 && anchors_[1].t <= oldest) anchors_.pop_front();
  while (!gaps_.empty() && gaps_.front().to <= oldest) gaps_.pop_front();
}

void PacketRing::Anchor(int64_t t, int64_t wall_us) {
  std::lock_guard<std::mutex> lock(mu_);
  anchors_.push_back({t, wall_us});
}

void PacketRing::MarkGap(int64_t from, int64_t to) {
  std::lock_guard<std::mutex> lock(mu_);
  gaps_.push_back({from, to});
}

int64_t PacketRing::WallLocked(int64_t t) const {
  if (anchors_.empty()) return 0;
  auto it = std::upper_bound(anchors_.begin(), anchors_.end(), t,
                             [](int64_t v, const AnchorPoint& a) { return v < a.t; });
  const AnchorPoint& a = it == anchors_.begin() ? *it : *(it - 1);
  return a.wall + (t - a.t);
}

int64_t PacketRing::TimelineLocked(int64_t wall) const {
  if (anchors_.empty()) return wall;
  auto it = std::upper_bound(anchors_.begin(), anchors_.end(), wall,
                             [](int64_t v, const AnchorPoint& a) { return v < a.wall; });
  const AnchorPoint& a = it == anchors_.begin() ? *it : *(it - 1);
  return a.t + (wall - a.wall);
}

int64_t PacketRing::WallToTimeline(int64_t wall_us) const {
  std::lock_guard<std::mutex> lock(mu_);
  return TimelineLocked(wall_us);
}

int64_t PacketRing::Newest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return newest_;
}

std::vector<Gap> PacketRing::Gaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {gaps_.begin(), gaps_.end()};
}

RingStats PacketRing::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  RingStats s;
  s.packets = entries_.size();
  s.bytes = bytes_;
  s.gops = keys_.size();
  s.total_packets = total_packets_;
  s.total_bytes = total_bytes_;
  s.evicted_packets = evicted_;
  s.empty = entries_.empty();
  if (!s.empty) {
    s.oldest = entries_.front().pts;
    s.newest = newest_;
    s.oldest_wall = WallLocked(s.oldest);
    s.newest_wall = WallLocked(s.newest);
  }
  return s;
}

Snapshot PacketRing::Select(int64_t from, int64_t to) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.empty()) Fail(code::kRangeNotBuffered, "Nothing is buffered yet");
  const int64_t oldest = entries_.front().pts;
  if (to <= oldest || from >= newest_) {
    Fail(code::kRangeNotBuffered, "The range " + Seconds(from) + "s to " + Seconds(to) +
                                      "s is not in the buffer, which holds " + Seconds(oldest) + "s to " +
                                      Seconds(newest_) + "s of the timeline");
  }
  auto pts_of = [this](uint64_t seq) { return entries_[seq - front_seq_].pts; };
  // Latest keyframe at or before `from`; before the buffer's start, the oldest keyframe.
  auto it = std::upper_bound(keys_.begin(), keys_.end(), from,
                             [&](int64_t v, uint64_t seq) { return v < pts_of(seq); });
  if (it != keys_.begin()) --it;
  const size_t start = *it - front_seq_;
  const RingEntry& first = entries_[start];
  const int64_t base = first.pts;

  Snapshot snap;
  snap.start = base;
  snap.end = base;
  snap.requested_from = from;
  snap.requested_to = to;
  for (const auto& tp : *first.session) snap.tracks.push_back({CopyParams(tp.par.get()), tp.type});

  // Other tracks' packets for the first instants may sit just before the keyframe in arrival order.
  size_t i = start;
  while (i > 0 && entries_[i - 1].dts >= base - kSkewUs) i--;
  for (; i < entries_.size(); i++) {
    const RingEntry& e = entries_[i];
    if (e.dts > to + kSkewUs) break;
    if (e.track == key_track_) {
      // Cut video in decode order: every frame kept then has its references.
      if (i < start || e.dts >= to) continue;
    } else if (e.pts < base || e.pts >= to) {
      continue;  // audio is trimmed to the video start
    }
    if (!snap.tracks[e.track].par) continue;  // a track the clip's first connection lacked: not in the file
    if (!Compatible(first.session, e.session, e.track)) break;  // a reconnect changed the codec
    PacketPtr ref = MakePacket();
    if (!ref || av_packet_ref(ref.get(), e.pkt.get()) < 0) Fail(code::kWrite, "Out of memory");
    ref->pts = e.pts - base;
    ref->dts = e.dts - base;
    ref->duration = e.duration;
    snap.packets.push_back(std::move(ref));
    snap.track_of.push_back(e.track);
    snap.end = std::max(snap.end, e.pts + e.duration);
  }
  for (const Gap& g : gaps_)
    if (g.from >= base && g.to <= snap.end) snap.gaps++;
  snap.start_wall = WallLocked(snap.start);
  snap.end_wall = WallLocked(snap.end);
  return snap;
}

}  // namespace avr
