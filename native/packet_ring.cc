#include "packet_ring.h"

#include <algorithm>

#include "errors.h"
#include "subscription.h"

namespace avr {

namespace {

// The newest GOP is kept even when it alone is longer than the caps (a camera whose keyframe interval
// exceeds the buffer), up to these ceilings: past them (a stream that never sends another keyframe) the
// buffer starts again at the next keyframe rather than grow without bound.
int64_t GopCeilingBytes(int64_t max_bytes) { return std::max<int64_t>(2 * max_bytes, 64 << 20); }
int64_t GopCeilingUs(int64_t max_us) { return std::max<int64_t>(2 * max_us, max_us + 60'000'000); }

std::string Seconds(int64_t us) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", us / 1e6);
  return buf;
}

}  // namespace

PacketData& PacketData::operator=(PacketData&& o) noexcept {
  if (this != &o) {
    Reset();
    buf_ = o.buf_;
    data_ = o.data_;
    size_ = o.size_;
    flags_ = o.flags_;
    whole_ = std::move(o.whole_);
    o.buf_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void PacketData::Reset() {
  av_buffer_unref(&buf_);
  whole_.reset();
  data_ = nullptr;
  size_ = 0;
}

PacketData PacketData::Take(AVPacket* pkt) {
  PacketData d;
  d.size_ = pkt->size;
  d.flags_ = pkt->flags;
  if (pkt->side_data_elems > 0 || !pkt->buf) {
    d.whole_ = MakePacket();
    if (!d.whole_ || av_packet_ref(d.whole_.get(), pkt) < 0) Fail(code::kRead, "Out of memory");
    av_packet_unref(pkt);
    return d;
  }
  d.buf_ = pkt->buf;  // the reference moves: no data is copied, no count changes
  d.data_ = pkt->data;
  pkt->buf = nullptr;
  av_packet_unref(pkt);
  return d;
}

PacketData PacketData::Ref() const {
  PacketData d;
  d.size_ = size_;
  d.flags_ = flags_;
  d.data_ = data_;
  if (whole_) {
    d.whole_ = MakePacket();
    if (!d.whole_ || av_packet_ref(d.whole_.get(), whole_.get()) < 0) Fail(code::kWrite, "Out of memory");
  } else if (buf_) {
    d.buf_ = av_buffer_ref(buf_);
    if (!d.buf_) Fail(code::kWrite, "Out of memory");
  }
  return d;
}

void PacketData::Fill(AVPacket* pkt) const {
  if (whole_) {
    if (av_packet_ref(pkt, whole_.get()) < 0) Fail(code::kWrite, "Out of memory");
    return;
  }
  pkt->buf = av_buffer_ref(buf_);
  if (!pkt->buf) Fail(code::kWrite, "Out of memory");
  pkt->data = data_;
  pkt->size = size_;
  pkt->flags = flags_;
}

int64_t PacketData::held() const {
  const AVBufferRef* b = whole_ ? whole_->buf : buf_;
  return b ? (int64_t)b->size : size_;
}

RingEntry RefEntry(const RingEntry& e, bool with_data) {
  RingEntry r;
  r.track = e.track;
  r.pts = e.pts;
  r.dts = e.dts;
  r.duration = e.duration;
  r.key = e.key;
  r.session = e.session;
  r.held = e.held;
  if (e.pkt && with_data) r.pkt = e.pkt.Ref();
  return r;
}

PacketRing::~PacketRing() { CloseSubscriptions(); }

void PacketRing::SetTracks(int tracks, int key_track) {
  std::lock_guard<std::mutex> lock(mu_);
  key_track_ = key_track;
  newest_dts_.assign(tracks, INT64_MIN);
  present_.assign(tracks, true);
}

void PacketRing::SetPresent(const std::vector<bool>& present) {
  std::lock_guard<std::mutex> lock(mu_);
  present_ = present;
}

void PacketRing::SetConnected(bool connected) {
  std::lock_guard<std::mutex> lock(mu_);
  connected_ = connected;
}

bool PacketRing::Push(RingEntry&& e) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool is_key = e.track == key_track_ && e.key;
  if (entries_.empty() && !is_key) return false;  // the buffer always starts at a keyframe
  if (is_key) keys_.push_back(front_seq_ + entries_.size());
  bytes_ += e.pkt.size();
  held_ += e.held;
  total_bytes_ += e.pkt.size();
  total_packets_++;
  newest_ = std::max(newest_, e.pts + e.duration);
  if (e.track < (int)newest_dts_.size()) newest_dts_[e.track] = std::max(newest_dts_[e.track], e.dts);
  for (size_t i = 0; i < subs_.size();) {
    if (auto s = subs_[i].lock()) {
      s->Offer(e);
      i++;
    } else {
      subs_.erase(subs_.begin() + i);  // its consumer is gone
    }
  }
  entries_.push_back(std::move(e));
  EvictLocked();
  return true;
}

void PacketRing::PopFrontLocked() {
  bytes_ -= entries_.front().pkt.size();
  held_ -= entries_.front().held;
  entries_.pop_front();  // drops the ring's reference; consumers keep their own
  front_seq_++;
  evicted_++;
}

void PacketRing::EvictLocked() {
  // Whole GOPs only, like OBS's replay buffer: the oldest packet is always a keyframe.
  auto over = [&] { return newest_ - entries_.front().pts > max_us_ || held_ > max_bytes_; };
  while (keys_.size() >= 2 && over()) {
    const uint64_t next = keys_[1];
    while (front_seq_ < next) PopFrontLocked();
    keys_.pop_front();
  }
  if (keys_.size() == 1 && over()) {
    long_gop_ = true;  // the newest GOP alone is over the caps: keep it, and say so once
    if (held_ > GopCeilingBytes(max_bytes_) || newest_ - entries_.front().pts > GopCeilingUs(max_us_)) {
      while (!entries_.empty()) PopFrontLocked();
      keys_.clear();
    }
  } else if (keys_.size() >= 2) {
    long_gop_ = false;  // a whole GOP fits within the caps again: a later long one is news
    long_gop_told_ = false;
  }
  if (entries_.empty()) return;
  const int64_t oldest = entries_.front().pts;
  wall_.PruneBefore(oldest);
  while (!gaps_.empty() && gaps_.front().to <= oldest) gaps_.pop_front();
}

int64_t PacketRing::TakeLongGopWarning(int64_t* bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!long_gop_ || long_gop_told_ || entries_.empty()) return 0;
  long_gop_told_ = true;
  *bytes = held_;
  return newest_ - entries_.front().pts;
}

void PacketRing::MarkGap(int64_t from, int64_t to) {
  std::lock_guard<std::mutex> lock(mu_);
  // Each track reports the same hole: keep one gap for it.
  if (!gaps_.empty() && from <= gaps_.back().to && to >= gaps_.back().from) {
    gaps_.back().from = std::min(gaps_.back().from, from);
    gaps_.back().to = std::max(gaps_.back().to, to);
    return;
  }
  gaps_.push_back({from, to});
}

void PacketRing::ObserveClock(int64_t t, int64_t arrival) {
  std::lock_guard<std::mutex> lock(mu_);
  clock_.Observe(t, arrival, &wall_);
}

bool PacketRing::HasWallClock() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !wall_.empty();
}

int64_t PacketRing::WallToTimeline(int64_t wall_us) const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_.Timeline(wall_us);
}

int64_t PacketRing::TimelineToWall(int64_t t) const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_.Wall(t);
}

int64_t PacketRing::Oldest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.empty() ? 0 : entries_.front().pts;
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
  s.held = held_;
  s.gops = keys_.size();
  s.total_packets = total_packets_;
  s.total_bytes = total_bytes_;
  s.evicted_packets = evicted_;
  s.empty = entries_.empty();
  s.has_wall = !wall_.empty();
  if (!s.empty) {
    s.oldest = entries_.front().pts;
    s.newest = newest_;
    s.oldest_wall = wall_.Wall(s.oldest);
    s.newest_wall = wall_.Wall(s.newest);
  }
  return s;
}

std::shared_ptr<Subscription> PacketRing::Subscribe(uint32_t tracks, size_t capacity) {
  auto s = std::make_shared<Subscription>(tracks, std::max<size_t>(capacity, 1));
  std::lock_guard<std::mutex> lock(mu_);
  if (subs_closed_) s->Close();  // the ingest thread is done: nothing live will come
  else subs_.push_back(s);
  return s;
}

void PacketRing::CloseSubscriptions() {
  std::vector<std::weak_ptr<Subscription>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subs.swap(subs_);
    subs_closed_ = true;
  }
  for (auto& w : subs)
    if (auto s = w.lock()) s->Close();
}

RangeResult PacketRing::Query(const RangeQuery& q) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.empty()) Fail(code::kRangeNotBuffered, "Nothing is buffered yet");
  const int64_t oldest = entries_.front().pts;
  if (q.to <= oldest || q.from >= newest_) {
    Fail(code::kRangeNotBuffered, "The range " + Seconds(q.from) + "s to " + Seconds(q.to) +
                                      "s is not in the buffer, which holds " + Seconds(oldest) + "s to " +
                                      Seconds(newest_) + "s of the timeline");
  }
  RangeResult r;
  r.key_track = key_track_;
  r.tracks = (int)newest_dts_.size();
  r.newest_dts = newest_dts_;
  r.present = present_;
  r.connected = connected_;
  r.oldest = oldest;
  r.newest = newest_;

  size_t start;
  int64_t base;
  if (q.from_keyframe) {
    auto pts_of = [this](uint64_t seq) { return entries_[seq - front_seq_].pts; };
    // Latest keyframe at or before `from`; before the buffer's start, the oldest keyframe.
    auto it = std::upper_bound(keys_.begin(), keys_.end(), q.from,
                               [&](int64_t v, uint64_t seq) { return v < pts_of(seq); });
    if (it != keys_.begin()) --it;
    start = *it - front_seq_;
    base = entries_[start].pts;
  } else {
    // Arrival order is decode order per track and nearly so across tracks: bisect, then widen by slack.
    auto it = std::lower_bound(entries_.begin(), entries_.end(), q.from,
                               [](const RingEntry& e, int64_t v) { return e.dts < v; });
    start = it - entries_.begin();
    base = q.from;
  }
  // Other tracks' packets for the first instants may sit just before the start in arrival order.
  size_t i = start;
  while (i > 0 && entries_[i - 1].dts >= base - q.slack) i--;
  for (; i < entries_.size(); i++) {
    const RingEntry& e = entries_[i];
    if (e.dts > q.to + q.slack) break;
    if (!(q.tracks & (1u << e.track))) continue;
    if (i < start && e.track == key_track_ && q.from_keyframe) continue;  // decoding starts at the keyframe
    r.packets.push_back(RefEntry(e, !q.timing_only));
  }
  for (const Gap& g : gaps_)
    if (g.to > base && g.from < q.to) r.gaps.push_back(g);
  r.wall = wall_.Slice(base, q.to);
  return r;
}

}  // namespace avr
