#include "segment_writer.h"

#include <ctime>
#include <filesystem>

namespace avr {

namespace {

constexpr size_t kQueue = 16384;  // packets: a disk that pauses for many seconds still loses nothing

int64_t LocalOffsetUs(int64_t wall_us) {
  const time_t t = (time_t)(wall_us / 1'000'000);
  struct tm tm {};
  localtime_r(&t, &tm);
  return (int64_t)tm.tm_gmtoff * 1'000'000;
}

}  // namespace

SegmentWriter::SegmentWriter(RecordOptions o, std::shared_ptr<PacketRing> ring, SegmentEvents* events)
    : o_(std::move(o)), ring_(std::move(ring)), events_(events) {
  sub_ = ring_->Subscribe(~0u, kQueue);
}

SegmentWriter::~SegmentWriter() {
  Abort();
  Join();
}

void SegmentWriter::Start() { thread_ = std::thread([this] { Run(); }); }

void SegmentWriter::Join() {
  if (thread_.joinable()) thread_.join();
}

void SegmentWriter::Abort() {
  abort_ = true;
  if (sub_) sub_->Close();
}

void SegmentWriter::Run() {
  LivePacket lp;
  while (!abort_) {
    if (!sub_->Pop(&lp, 200'000)) {
      if (sub_->ended()) break;
      continue;
    }
    Write(lp);
    lp = LivePacket();  // the packet's reference goes now, not with the next one
  }
  Close();
  ring_.reset();
}

std::string SegmentWriter::NameFor(int64_t wall_us) {
  // Local time, as NVRs and the original API name things: recording_20240517_103000.mp4. Two segments
  // in one second (short segments, a restart) get _2, _3…; an existing file is never overwritten.
  const time_t t = (time_t)(wall_us / 1'000'000);
  struct tm tm {};
  localtime_r(&t, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
  const std::string ext = o_.format == "ts" ? ".ts" : ".mp4";
  std::string base = std::string("recording_") + stamp;
  name_seq_ = base == last_name_ ? name_seq_ + 1 : 1;
  last_name_ = base;
  for (;; name_seq_++) {
    const std::string name = name_seq_ == 1 ? base + ext : base + "_" + std::to_string(name_seq_) + ext;
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(o_.dir) / name, ec)) return name;
  }
}

void SegmentWriter::Open(const RingEntry& e, int64_t wall) {
  const int64_t now_wall = wall ? wall : av_gettime();
  cur_ = SegmentInfo();
  cur_.file = NameFor(now_wall);
  cur_.start_wall = wall;
  cur_.end_wall = wall;
  cur_.timeline_start = e.pts;
  cur_.timeline_end = e.pts;
  // The file's 0 is the keyframe's decode time: no timestamp in the file is negative (a muxer that has to
  // shift negative ones shifts them unevenly across fragments).
  base_ts_ = e.dts;
  std::vector<TrackParams> tracks(e.session->size());
  for (size_t i = 0; i < tracks.size(); i++) {
    tracks[i].type = (*e.session)[i].type;
    tracks[i].par = CopyParams((*e.session)[i].par.get());
  }
  MuxOptions mo;
  mo.path = (std::filesystem::path(o_.dir) / cur_.file).string();
  mo.format = o_.format == "ts" ? "mpegts" : "mp4";
  mo.in_place = true;  // a crash leaves the segment where it is, playable up to its last fragment
  mo.cancel = &abort_;
  if (o_.format != "ts") {
    // Fragmented: a moof+mdat at every keyframe and at least every second, each flushed to the file.
    mo.muxer_options = {{"movflags", "+frag_keyframe+empty_moov+default_base_moof"}, {"frag_duration", "1000000"}};
  }
  mux_ = std::make_unique<Muxer>(mo, tracks);
  session_ = e.session;
  // The next boundary: the next multiple of the segment length on the local wall clock (10:30:00,
  // 10:40:00…), or on the timeline for a source without a wall clock.
  const int64_t clock = wall ? wall : e.pts;
  const int64_t off = wall ? LocalOffsetUs(wall) : 0;
  boundary_ = ((clock + off) / o_.segment_us + 1) * o_.segment_us - off;
  events_->OnSegmentOpened(cur_);
}

void SegmentWriter::Close() {
  if (!mux_) return;
  try {
    const MuxResult r = mux_->Close();
    cur_.bytes = r.bytes;
    cur_.complete = true;
  } catch (const Exception& e) {
    events_->OnRecordError(e.failure());
    std::error_code ec;
    cur_.bytes = (int64_t)std::filesystem::file_size(std::filesystem::path(o_.dir) / cur_.file, ec);
  }
  mux_.reset();
  session_.reset();
  events_->OnSegmentClosed(cur_);
}

void SegmentWriter::Write(const LivePacket& lp) {
  const RingEntry& e = lp.entry;
  if (!e.session || e.track >= (int)e.session->size() || !(*e.session)[e.track].par) return;
  if (lp.dropped_before > 0) {
    need_key_ = true;
    if (!behind_told_) {
      behind_told_ = true;
      events_->OnRecordWarning("WARN_RECORD_BEHIND", "The disk recorder fell behind (" + std::to_string(lp.dropped_before) +
                                                         " packets dropped): it goes on from the next keyframe");
    }
  }
  if (e.session != session_) {
    video_track_ = -1;
    for (size_t i = 0; i < e.session->size(); i++)
      if ((*e.session)[i].type == AVMEDIA_TYPE_VIDEO && (*e.session)[i].par) video_track_ = (int)i;
    if (mux_) Close();  // a new connection: its parameters may differ
    need_key_ = true;
  }
  const bool key = video_track_ < 0 || (e.track == video_track_ && e.key);
  const int64_t wall = ring_->TimelineToWall(e.pts);
  const int64_t clock = wall ? wall : e.pts;
  if (mux_ && key && clock >= boundary_) Close();
  if (need_key_ || !mux_) {
    if (!key) return;  // segments (and a segment after a drop) go on from a keyframe: whole GOPs
    if (!mux_) {
      if (retry_at_ && av_gettime_relative() < retry_at_) return;
      try {
        std::error_code ec;
        std::filesystem::create_directories(o_.dir, ec);
        Open(e, wall);
      } catch (const Exception& f) {
        mux_.reset();
        retry_at_ = av_gettime_relative() + o_.retry_us;
        events_->OnRecordError(f.failure());
        return;
      }
      retry_at_ = 0;
    }
    need_key_ = false;
    behind_told_ = false;
  }
  // Audio presented before the segment's first frame belongs to the previous segment.
  if (e.track != video_track_ && e.pts < cur_.timeline_start) return;
  try {
    mux_->Write(e.track, e.pkt, e.pts - base_ts_, e.dts - base_ts_, e.duration);
  } catch (const Exception& f) {
    // The disk is full or the folder went: end this segment as it is (playable up to its last
    // fragment) and try again with a new one later.
    events_->OnRecordError(f.failure());
    mux_.reset();
    session_.reset();
    events_->OnSegmentClosed(cur_);
    retry_at_ = av_gettime_relative() + o_.retry_us;
    need_key_ = true;
    return;
  }
  cur_.packets++;
  cur_.timeline_end = std::max(cur_.timeline_end, e.pts + e.duration);
  if (wall) cur_.end_wall = std::max(cur_.end_wall, ring_->TimelineToWall(cur_.timeline_end));
}

}  // namespace avr
