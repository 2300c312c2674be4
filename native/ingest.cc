#include "ingest.h"

#include <chrono>
#include <cstring>

namespace avr {

namespace {

// How long a packet of this stream lasts when it does not say: one frame, or one audio frame.
int64_t DefaultDuration(const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  if (par->codec_type == AVMEDIA_TYPE_AUDIO)
    return par->frame_size > 0 && par->sample_rate > 0 ? av_rescale(par->frame_size, 1'000'000, par->sample_rate) : 0;
  AVRational fps = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  return fps.num > 0 && fps.den > 0 ? av_rescale(fps.den, 1'000'000, fps.num) : 0;
}

int64_t WallNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A demuxer may hand out packets that reference a buffer much larger than their payload (MPEG-TS takes
// pooled buffers sized for the largest PES). Holding minutes of those would hold that waste too: such a
// packet gets one exact-size copy at ingest. Packets whose buffer fits are never copied.
constexpr int64_t kCompactSlackBytes = 1024;

void CompactPacket(AVPacket* pkt) {
  if (!pkt->buf || pkt->size <= 0) return;
  const int64_t fit = pkt->size + AV_INPUT_BUFFER_PADDING_SIZE;
  if ((int64_t)pkt->buf->size <= fit + std::max<int64_t>(kCompactSlackBytes, pkt->size / 32)) return;
  AVBufferRef* buf = av_buffer_alloc(fit);
  if (!buf) return;  // keep the larger buffer rather than lose the packet
  memcpy(buf->data, pkt->data, pkt->size);
  memset(buf->data + pkt->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  av_buffer_unref(&pkt->buf);
  pkt->buf = buf;
  pkt->data = buf->data;
}

std::string Describe(const AVChannelLayout& l) {
  char buf[128] = {0};
  av_channel_layout_describe(&l, buf, sizeof buf);
  return buf;
}

StreamInfo DescribeStream(int track, const AVStream* st, const StreamEncoder* enc) {
  const AVCodecParameters* par = enc ? enc->params() : st->codecpar;
  StreamInfo s;
  s.track = track;
  s.type = par->codec_type;
  s.codec = avcodec_get_name(par->codec_id);
  if (const char* p = avcodec_profile_name(par->codec_id, par->profile)) s.profile = p;
  s.time_base = enc ? enc->time_base() : st->time_base;
  s.bit_rate = par->bit_rate;
  if (enc) s.encoded_from = avcodec_get_name(st->codecpar->codec_id);
  if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
    s.width = par->width;
    s.height = par->height;
    s.fps = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if (const char* f = av_get_pix_fmt_name((AVPixelFormat)par->format)) s.pixel_format = f;
  } else {
    s.sample_rate = par->sample_rate;
    s.channels = par->ch_layout.nb_channels;
    s.channel_layout = Describe(par->ch_layout);
  }
  return s;
}

}  // namespace

Ingest::Ingest(SourceOptions opts, std::shared_ptr<PacketRing> ring, IngestEvents* events)
    : opts_(std::move(opts)), ring_(std::move(ring)), events_(events), url_(opts_.url), input_options_(opts_.input_options) {}

Ingest::~Ingest() {
  RequestStop();
  Join();
}

void Ingest::Start() { thread_ = std::thread([this] { Run(); }); }

void Ingest::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void Ingest::Join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

int Ingest::InterruptCb(void* opaque) {
  auto* self = static_cast<Ingest*>(opaque);
  if (self->stop_.load()) return 1;
  const int64_t deadline = self->deadline_us_.load();
  return deadline && av_gettime_relative() > deadline ? 1 : 0;
}

bool Ingest::SleepFor(int64_t us) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::microseconds(us), [this] { return stop_.load(); });
}

void Ingest::SetSource(std::string url, std::vector<std::pair<std::string, std::string>> input_options,
                       Failure failure) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure.code.empty()) {
      url_ = std::move(url);
      input_options_ = std::move(input_options);
    }
    resolve_failure_ = std::move(failure);
    resolved_ = true;
  }
  cv_.notify_all();
}

void Ingest::Resolve() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    resolved_ = false;
  }
  events_->OnResolve();
  std::unique_lock<std::mutex> lock(mu_);
  const bool answered = cv_.wait_for(lock, std::chrono::microseconds(opts_.open_timeout_us),
                                     [this] { return resolved_ || stop_.load(); });
  if (stop_) Fail(code::kStopped, "Stopped while resolving the source");
  if (!answered) {
    char msg[128];
    snprintf(msg, sizeof msg, "The source was not resolved within openTimeout (%g s)", opts_.open_timeout_us / 1e6);
    Fail(code::kTimeout, msg);
  }
  if (!resolve_failure_.code.empty()) throw Exception(resolve_failure_);
}

InputPtr Ingest::Open() {
  InputRequest r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.url = url_;
    r.options = input_options_;
  }
  r.format = opts_.format;
  r.timeout_us = opts_.open_timeout_us;
  r.interrupt = {InterruptCb, this};
  r.deadline_us = &deadline_us_;
  r.stopped = &stop_;
  return OpenInput(r);
}

SourceInfo Ingest::SetupTracks(AVFormatContext* ic, std::vector<Track>& tracks) {
  const int v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const int a = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, v >= 0 ? v : -1, nullptr, 0);
  if (track_types_.empty()) {
    // The first connection fixes the tracks: the best video and the best audio stream.
    if (v >= 0) track_types_.push_back(AVMEDIA_TYPE_VIDEO);
    if (a >= 0) track_types_.push_back(AVMEDIA_TYPE_AUDIO);
    if (track_types_.empty()) Fail(code::kNoStreams, "'" + opts_.url + "' has no audio or video stream");
    key_track_ = 0;
    ring_->SetTracks((int)track_types_.size(), key_track_);
    timeline_ = std::make_unique<Timeline>((int)track_types_.size());
  }
  tracks.clear();
  tracks.resize(track_types_.size());
  for (size_t t = 0; t < track_types_.size(); t++) tracks[t].input = track_types_[t] == AVMEDIA_TYPE_VIDEO ? v : a;
  for (unsigned i = 0; i < ic->nb_streams; i++) ic->streams[i]->discard = AVDISCARD_ALL;  // HLS: skip other variants
  std::vector<bool> present(tracks.size());
  for (size_t t = 0; t < tracks.size(); t++) present[t] = tracks[t].input >= 0;
  ring_->SetPresent(present);
  ring_->SetConnected(true);

  SourceInfo info;
  info.format = ic->iformat->name;
  for (size_t t = 0; t < tracks.size(); t++) {
    if (tracks[t].input < 0) continue;
    AVStream* st = ic->streams[tracks[t].input];
    st->discard = AVDISCARD_DEFAULT;
    if (StreamEncoder::NeedsEncoding(st->codecpar)) tracks[t].encoder = StreamEncoder::Open(st, opts_.encoder);
    info.streams.push_back(DescribeStream((int)t, st, tracks[t].encoder.get()));
    timeline_->SetDefaultDuration((int)t, DefaultDuration(st));
  }
  return info;
}

void Ingest::Pace(int64_t t) {
  const int64_t now = av_gettime_relative();
  if (pace_base_raw_ == AV_NOPTS_VALUE) {
    pace_base_raw_ = t;
    pace_base_wall_ = now;
    return;
  }
  const int64_t wait = pace_base_wall_ + (int64_t)((t - pace_base_raw_) / opts_.read_rate) - now;
  // More than 5 s of media off the pace (a gap in the source): start pacing afresh rather than wait.
  const double jump = 5e6 / opts_.read_rate;
  if (wait > jump || wait < -jump) {
    pace_base_raw_ = t;
    pace_base_wall_ = now;
  } else if (wait > 0) {
    SleepFor(wait);
  }
}

void Ingest::Place(int track, AVPacket* pkt, AVRational tb, int wrap_bits) {
  const bool key = pkt->flags & AV_PKT_FLAG_KEY;
  if (!session_has_key_) {
    // Each connection starts at a keyframe of the key track; a decoder could not use what comes before.
    if (track != key_track_ || !key) return;
  }
  Timeline::Mapped m;
  if (!timeline_->Map(track, pkt, tb, wrap_bits, &m)) return;
  session_has_key_ = true;
  // Paced on the timeline, so packets without timestamps and spliced jumps pace like the rest.
  if (opts_.read_rate > 0) Pace(m.dts);
  if (opts_.wall_clock) {
    // The clock sample: this instant reached us now; or, when the sender stamps its packets with its
    // own wall clock (RTSP's RTCP sender reports), it was captured then. A sender clock that is far from
    // ours (a camera set to 1970) is not used.
    const int64_t now = WallNowUs();
    int64_t t = m.dts + m.duration, at = now;
    if (sender_epoch_ != AV_NOPTS_VALUE) {
      const int64_t sent = sender_epoch_ + m.raw_pts;
      if (sent > now - 10'000'000 && sent < now + 10'000'000) {
        t = m.pts;
        at = sent;
      }
    }
    ring_->ObserveClock(t, at);
  }
  if (m.gap_from != INT64_MIN) {
    ring_->MarkGap(m.gap_from, m.dts);
    gap_from_ = m.gap_from;
    gap_to_ = m.dts;
  }
  RingEntry e;
  CompactPacket(pkt);
  e.pkt = PacketData::Take(pkt);  // the ring takes the reference; no data is copied
  e.held = e.pkt.held();
  e.track = track;
  e.pts = m.pts;
  e.dts = m.dts;
  e.duration = m.duration;
  e.key = key;
  e.session = current_params_;
  if (!ring_->Push(std::move(e))) return;
  int64_t gop_bytes = 0;
  if (const int64_t gop_us = ring_->TakeLongGopWarning(&gop_bytes)) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "The source's keyframe interval is longer than the buffer: one GOP already spans %.1f s and %.1f MB, "
             "over bufferSeconds or maxBufferBytes. The newest GOP is kept whole (saves need its keyframe); "
             "raise the caps or shorten the camera's keyframe interval",
             gop_us / 1e6, gop_bytes / 1e6);
    events_->OnWarning("WARN_LONG_GOP", msg);
  }
  if (!session_buffered_) {
    session_buffered_ = true;
    if (!started_) {
      started_ = true;
      events_->OnStarted(info_);
    } else {
      events_->OnReconnected(attempt_, info_, gap_from_, gap_to_);
    }
  }
  events_->OnNewest(timeline_->newest());
}

bool Ingest::Session(Failure* why) {
  session_has_key_ = false;
  session_buffered_ = false;
  gap_from_ = gap_to_ = INT64_MIN;
  pace_base_raw_ = AV_NOPTS_VALUE;
  sender_epoch_ = AV_NOPTS_VALUE;
  std::vector<Track> tracks;
  try {
    if (opts_.resolve_on_reconnect && attempt_ > 0) Resolve();  // the first URL was resolved before start()
    InputPtr ic = Open();
    info_ = SetupTracks(ic.get(), tracks);
    auto params = std::make_shared<std::vector<TrackParams>>();
    for (size_t t = 0; t < tracks.size(); t++) {
      TrackParams tp;
      tp.type = track_types_[t];
      if (tracks[t].input >= 0)
        tp.par = CopyParams(tracks[t].encoder ? tracks[t].encoder->params() : ic->streams[tracks[t].input]->codecpar);
      params->push_back(std::move(tp));
    }
    current_params_ = params;

    PacketPtr pkt = MakePacket();
    std::vector<int> track_of(ic->nb_streams, -1);
    for (size_t t = 0; t < tracks.size(); t++)
      if (tracks[t].input >= 0) track_of[tracks[t].input] = (int)t;
    int64_t last_data = av_gettime_relative();
    // A source that sends data but never a usable keyframe would leave start() waiting forever.
    const int64_t first_key_deadline = last_data + opts_.open_timeout_us;
    for (;;) {
      deadline_us_ = last_data + opts_.stall_timeout_us;
      int ret = av_read_frame(ic.get(), pkt.get());
      deadline_us_ = 0;
      if (stop_) break;
      if (ret == AVERROR(EAGAIN)) {  // non-blocking devices: nothing yet
        if (av_gettime_relative() - last_data > opts_.stall_timeout_us) ret = AVERROR_EXIT;
        else {
          SleepFor(5000);
          continue;
        }
      }
      if (ret == AVERROR_EXIT) {
        char msg[96];
        snprintf(msg, sizeof msg, "No data from the source for %g s", opts_.stall_timeout_us / 1e6);
        *why = {code::kTimeout, msg, ret};
        break;
      }
      if (ret == AVERROR_EOF || (ret < 0 && avio_feof(ic->pb))) break;  // a clean end
      if (ret < 0) {
        *why = {code::kRead, "Reading from the source failed: " + AvErrorString(ret), ret};
        break;
      }
      bytes_read_ += pkt->size;
      last_data = av_gettime_relative();
      if (!session_buffered_ && last_data > first_key_deadline) {
        av_packet_unref(pkt.get());
        char msg[96];
        snprintf(msg, sizeof msg, "No usable keyframe from the source within %g s", opts_.open_timeout_us / 1e6);
        *why = {code::kTimeout, msg, 0};
        break;
      }
      const int track = pkt->stream_index < (int)track_of.size() ? track_of[pkt->stream_index] : -1;
      if (track < 0) {
        av_packet_unref(pkt.get());
        continue;
      }
      AVStream* st = ic->streams[pkt->stream_index];
      // RTSP: once an RTCP sender report came, start_time_realtime is the sender's wall clock at pts 0
      // (libavformat derives pts from the reports only when there are several streams).
      if (ic->start_time_realtime > 0 && ic->nb_streams > 1 && !strcmp(ic->iformat->name, "rtsp"))
        sender_epoch_ = ic->start_time_realtime;
      if (StreamEncoder* enc = tracks[track].encoder.get()) {
        enc->Encode(pkt.get(), [&](AVPacket* out) { Place(track, out, enc->time_base(), 64); });
      } else {
        Place(track, pkt.get(), st->time_base, st->pts_wrap_bits);
      }
      av_packet_unref(pkt.get());
    }
    // Drain the encoders so the last frames of this connection are buffered too.
    if (!stop_) {
      for (size_t t = 0; t < tracks.size(); t++) {
        if (StreamEncoder* enc = tracks[t].encoder.get())
          enc->Encode(nullptr, [&](AVPacket* out) { Place((int)t, out, enc->time_base(), 64); });
      }
    }
  } catch (const Exception& e) {
    *why = e.failure();
  } catch (const std::exception& e) {  // e.g. bad_alloc: never let it terminate the process
    *why = {code::kRead, std::string("Ingest failed: ") + e.what(), 0};
  }
  ring_->SetConnected(false);  // nothing more joins this connection's packets
  return session_buffered_;
}

void Ingest::Run() {
  for (;;) {
    Failure why;
    const bool buffered = Session(&why);
    if (stop_) break;
    if (!started_) {  // the first connection never produced data: start() fails, no retries
      if (why.code.empty()) why = {code::kNoStreams, "'" + opts_.url + "' ended before any packet was buffered"};
      ring_->CloseSubscriptions();  // consumers drain what came before the end is told
      events_->OnEnd(why, false);
      break;
    }
    if (!opts_.reconnect) {
      ring_->CloseSubscriptions();  // consumers drain what came before the end is told
      events_->OnEnd(why, true);
      break;
    }
    if (buffered) attempt_ = 0;
    attempt_++;
    if (opts_.max_attempts >= 0 && attempt_ > opts_.max_attempts) {
      if (why.code.empty()) why = {code::kSourceEnded, "The source ended"};
      why.message = "Gave up reconnecting after " + std::to_string(opts_.max_attempts) + " attempts: " + why.message;
      ring_->CloseSubscriptions();  // consumers drain what came before the end is told
      events_->OnEnd(why, true);
      break;
    }
    int64_t delay = opts_.reconnect_delay_us;
    for (int i = 1; i < attempt_ && delay < opts_.reconnect_max_delay_us; i++) delay *= 2;
    delay = std::min(delay, opts_.reconnect_max_delay_us);
    if (why.code.empty()) why = {code::kSourceEnded, "The source ended"};
    events_->OnReconnecting(attempt_, delay, why);
    reconnects_++;
    if (!SleepFor(delay)) break;
    timeline_->NewSession();
  }
  ring_->CloseSubscriptions();
  ring_.reset();  // the recorder holds the buffer from here: stop() frees it (and trims) when it is the last
  events_->OnClosed();
}

}  // namespace avr
