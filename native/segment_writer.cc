#include "segment_writer.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace avr {

namespace {

constexpr size_t kQueue = 16384;  // packets: a disk that pauses for many seconds still loses nothing

// Fault injection for the tests (a disk slower than the stream, without a slow disk):
// AV_REWIND_RECORD_QUEUE (packets) and AV_REWIND_RECORD_DELAY_US (a pause before each packet is written).
int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long n = strtoll(v, &end, 10);
  return end && *end == 0 && n >= 0 ? (int64_t)n : fallback;
}

int64_t LocalOffsetUs(int64_t wall_us) {
  const time_t t = (time_t)(wall_us / 1'000'000);
  struct tm tm {};
  localtime_r(&t, &tm);
  return (int64_t)tm.tm_gmtoff * 1'000'000;
}

}  // namespace

SegmentWriter::SegmentWriter(RecordOptions o, std::shared_ptr<PacketRing> ring, SegmentEvents* events)
    : o_(std::move(o)), ring_(std::move(ring)), events_(events) {
  sub_ = ring_->Subscribe(~0u, (size_t)std::max<int64_t>(EnvInt("AV_REWIND_RECORD_QUEUE", kQueue), 1));
  delay_us_ = EnvInt("AV_REWIND_RECORD_DELAY_US", 0);
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
  // The held packets go out; a replay that starts another hold (a reconnect, a boundary) is drained too.
  draining_ = true;
  while (priming_ || cutting_) {
    EndPrime();
    EndCut();
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

// The newest buffered packet of this connection's audio track (ADTS AAC carries its configuration in
// each packet: it primes aac_adtstoasc). False when none has arrived yet.
bool SegmentWriter::NewestAudio(const RingEntry& e, int track, AVPacket* out) const {
  RangeQuery q;
  q.from = std::max(e.pts - 2'000'000, ring_->Oldest());
  q.to = std::max(ring_->Newest(), q.from + 1);
  q.tracks = 1u << track;
  q.from_keyframe = false;
  q.slack = 0;
  RangeResult r;
  try {
    r = ring_->Query(q);
  } catch (const Exception&) {
    return false;
  }
  const RingEntry* last = nullptr;
  for (const RingEntry& x : r.packets)
    if (x.session == e.session && x.track == track) last = &x;
  if (last) last->pkt.Fill(out);
  return last != nullptr;
}

// A fragmented mp4 holds the audio configuration in its header. ADTS AAC gives it only with its first
// packet, which an MPEG-TS source sends up to a second after the video: a segment opened before then
// would have no audio track at all.
bool SegmentWriter::AwaitsAudioConfig(const RingEntry& e) const {
  if (o_.format == "ts" || draining_) return false;
  for (size_t i = 0; i < e.session->size(); i++) {
    const AVCodecParameters* p = (*e.session)[i].par.get();
    if (!p || p->codec_type != AVMEDIA_TYPE_AUDIO || p->codec_id != AV_CODEC_ID_AAC || p->extradata_size > 0) continue;
    PacketPtr pkt = MakePacket();
    return !NewestAudio(e, (int)i, pkt.get());
  }
  return false;
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
  adts_.reset();
  audio_track_ = -1;
  for (size_t i = 0; i < tracks.size(); i++) {
    tracks[i].type = (*e.session)[i].type;
    tracks[i].par = CopyParams((*e.session)[i].par.get());
    const AVCodecParameters* p = tracks[i].par.get();
    if (p && p->codec_type == AVMEDIA_TYPE_AUDIO) audio_track_ = (int)i;
    // ADTS AAC (MPEG-TS sources) has its configuration in every packet; a fragmented mp4 needs it in
    // the header and raw packets: aac_adtstoasc, primed with the newest buffered audio packet of this
    // connection. (No audio buffered yet, and no configuration: this segment is recorded without audio.)
    if (p && o_.format != "ts" && p->codec_id == AV_CODEC_ID_AAC) {
      PacketPtr pkt = MakePacket();
      const bool last = NewestAudio(e, (int)i, pkt.get());
      const bool adts = last && pkt->size > 2 && pkt->data[0] == 0xff && (pkt->data[1] & 0xf0) == 0xf0;
      if (adts) {
        auto bsf = std::make_unique<Bsf>("aac_adtstoasc", (*e.session)[i].par.get());
        ParamsPtr raw = bsf->Filter(pkt.get()) ? bsf->Params() : nullptr;
        if (raw && raw->extradata_size > 0) {
          tracks[i].par = std::move(raw);
          adts_ = std::move(bsf);
        } else {
          tracks[i].par.reset();
        }
      } else if (!last && p->extradata_size == 0) {
        tracks[i].par.reset();
      }
    }
  }
  MuxOptions mo;
  mo.path = (std::filesystem::path(o_.dir) / cur_.file).string();
  mo.format = o_.format == "ts" ? "mpegts" : "mp4";
  mo.in_place = true;  // a crash leaves the segment where it is, playable up to its last fragment
  mo.cancel = &abort_;
  if (o_.format != "ts") {
    // Fragmented: a moof+mdat at every keyframe and at least every second, each flushed to the file.
    // delay_moov: the moov waits for the first fragment, so codec headers that only arrive with the
    // packets (ADTS AAC from MPEG-TS, turned into an AudioSpecificConfig by aac_adtstoasc) are in it.
    mo.muxer_options = {{"movflags", "+frag_keyframe+empty_moov+delay_moov+default_base_moof"}, {"frag_duration", "1000000"}};
  }
  seg_audio_ = audio_track_ >= 0 && tracks[audio_track_].par != nullptr;
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
  if (e.session != session_ && cutting_) EndCut();  // the held packets go to their segment first
  if (e.session != session_) {
    video_track_ = -1;
    for (size_t i = 0; i < e.session->size(); i++)
      if ((*e.session)[i].type == AVMEDIA_TYPE_VIDEO && (*e.session)[i].par) video_track_ = (int)i;
    if (mux_) Close();  // a new connection: its parameters may differ
    need_key_ = true;
  }
  if (priming_) {
    Hold(lp);
    if ((*e.session)[e.track].type == AVMEDIA_TYPE_AUDIO || e.pts - held_.front().entry.pts > 3'000'000) EndPrime();
    return;
  }
  const bool key = video_track_ < 0 || (e.track == video_track_ && e.key);
  const int64_t wall = ring_->TimelineToWall(e.pts);
  const int64_t clock = wall ? wall : e.pts;
  // A boundary keyframe: the segment ends there, but audio of its last instants may still be on its way
  // (MPEG-TS carries audio in PES packets that trail the video by up to a second). Hold the new
  // segment's packets until the audio has caught up (or 3 s), writing that late audio to the old one.
  if (mux_ && !cutting_ && key && clock >= boundary_) {
    if (!seg_audio_) {
      Close();
    } else {
      cutting_ = true;
      cut_pts_ = e.pts;
    }
  }
  if (cutting_) {
    if (e.track == audio_track_ && e.pts < cut_pts_) {
      WritePacket(e);
      return;
    }
    Hold(lp);
    const bool caught_up = (e.track == audio_track_ && e.pts >= cut_pts_) || e.pts - cut_pts_ > 3'000'000;
    if (caught_up) EndCut();
    return;
  }
  if (need_key_ || !mux_) {
    if (!key) return;  // segments (and a segment after a drop) go on from a keyframe: whole GOPs
    if (!mux_) {
      if (retry_at_ && av_gettime_relative() < retry_at_) return;
      // Until the audio's configuration arrives (or 3 s), the segment's first packets wait.
      if (!primed_ && AwaitsAudioConfig(e)) {
        priming_ = true;
        Hold(lp);
        return;
      }
      primed_ = false;
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
  WritePacket(e);
}

void SegmentWriter::WritePacket(const RingEntry& e) {
  if (!mux_) return;
  if (delay_us_) av_usleep((unsigned)delay_us_);
  try {
    if (e.track == audio_track_ && adts_) {
      PacketPtr p = MakePacket();
      e.pkt.Fill(p.get());
      if (adts_->Filter(p.get()))
        mux_->Write(e.track, PacketData::Take(p.get()), e.pts - base_ts_, e.dts - base_ts_, e.duration);
    } else {
      mux_->Write(e.track, e.pkt, e.pts - base_ts_, e.dts - base_ts_, e.duration);
    }
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
  if (const int64_t w = ring_->TimelineToWall(cur_.timeline_end)) cur_.end_wall = std::max(cur_.end_wall, w);
}

void SegmentWriter::EndPrime() {
  if (!priming_) return;
  priming_ = false;
  primed_ = true;  // the first held packet opens the segment, with the audio it now has or without
  Replay();
}

// A held packet keeps its own reference and what was dropped before it: replayed, a hole still sends
// the writer to the next keyframe.
void SegmentWriter::Hold(const LivePacket& lp) { held_.push_back({RefEntry(lp.entry), lp.dropped_before}); }

void SegmentWriter::Replay() {
  std::vector<LivePacket> held = std::move(held_);
  held_.clear();
  for (const LivePacket& h : held) Write(h);
}

void SegmentWriter::EndCut() {
  if (!cutting_) return;
  cutting_ = false;
  Close();
  Replay();
}

}  // namespace avr
