#include "recorder.h"

#include <algorithm>
#include <cmath>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "footage.h"
#include "js_convert.h"

namespace avr {

namespace {


// Frees a buffer (up to maxBufferBytes of packets) on a worker thread instead of the event loop.
class ReleaseWorker : public Napi::AsyncWorker {
 public:
  ReleaseWorker(Napi::Env env, std::shared_ptr<PacketRing> ring) : Napi::AsyncWorker(env, "av-rewind:release"), ring_(std::move(ring)) {}
  void Execute() override {
    const bool last = ring_.use_count() == 1;  // else a running save frees it when it is done
    ring_.reset();
#if defined(__GLIBC__)
    // The packets were allocated on the ingest thread, in its malloc arena. glibc keeps freed memory in
    // an arena for reuse, and a new thread (the next start()) may get another arena: without this, a
    // recorder started and stopped in a loop grows RSS by the buffer every few cycles. Give it back.
    if (last) malloc_trim(0);
#endif
  }

 private:
  std::shared_ptr<PacketRing> ring_;
};

// V8 sees the ring's memory: the buffers it holds plus what each entry costs besides them (its slot, and
// the AVBufferRef and AVBuffer, each av_malloc'd with 64-byte alignment, and the data's alignment slack).
constexpr int64_t kEntryOverhead = sizeof(RingEntry) + 3 * 64;

}  // namespace

Napi::Function Recorder::Define(Napi::Env env) {
  return DefineClass(env, "NativeRecorder",
                     {InstanceMethod("start", &Recorder::Start), InstanceMethod("stop", &Recorder::Stop),
                      InstanceMethod("save", &Recorder::Save),
                      InstanceMethod("cancel", &Recorder::Cancel), InstanceMethod("stats", &Recorder::Stats),
                      InstanceMethod("meter", &Recorder::Meter), InstanceMethod("levels", &Recorder::Levels),
                      InstanceMethod("setSource", &Recorder::SetSource),
                      InstanceMethod("toTimeline", &Recorder::ToTimeline),
                      InstanceMethod("grab", &Recorder::Grab),
                      InstanceMethod("progress", &Recorder::Progress),
                      InstanceMethod("footage", &Recorder::Footage)});
}

Recorder::Recorder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Recorder>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw MakeError(env, {code::kInvalidArg, "NativeRecorder(options) expects an object"});
  }
  Napi::Object o = info[0].As<Napi::Object>();
  opts_.url = Str(o, "url");
  opts_.format = Str(o, "format");
  opts_.input_options = InputOptions(o.Get("inputOptions"));
  opts_.read_rate = Num(o, "readRate", 0);
  opts_.resolve_on_reconnect = Bool(o, "resolveOnReconnect", false);
  opts_.open_timeout_us = Micros(Num(o, "openTimeout", 15));
  opts_.stall_timeout_us = Micros(Num(o, "stallTimeout", 10));
  opts_.reconnect = Bool(o, "reconnect", true);
  // At least 10 ms between attempts: a zero delay would spin and flood the event queue.
  opts_.reconnect_delay_us = std::max<int64_t>(10'000, Micros(Num(o, "reconnectDelay", 1)));
  opts_.reconnect_max_delay_us = std::max(opts_.reconnect_delay_us, Micros(Num(o, "reconnectMaxDelay", 30)));
  opts_.max_attempts = (int)std::clamp(Num(o, "reconnectMaxAttempts", -1), -1.0, 1e9);
  Napi::Value enc = o.Get("encoder");
  if (enc.IsObject()) {
    Napi::Object e = enc.As<Napi::Object>();
    opts_.encoder.video_codec = Str(e, "videoCodec");
    opts_.encoder.preset = Str(e, "preset", opts_.encoder.preset);
    opts_.encoder.gop_seconds = Num(e, "gopSeconds", opts_.encoder.gop_seconds);
    opts_.encoder.video_bitrate = (int64_t)Num(e, "videoBitrate", 0);
    opts_.encoder.audio_bitrate = (int64_t)Num(e, "audioBitrate", (double)opts_.encoder.audio_bitrate);
    opts_.encoder.threads = (int)Num(e, "threads", opts_.encoder.threads);
  }
  opts_.wall_clock = Bool(o, "wallClock", true);
  if (o.Get("record").IsObject()) {
    Napi::Object r = o.Get("record").As<Napi::Object>();
    record_ = true;
    record_opts_.dir = Str(r, "dir");
    record_opts_.segment_us = Micros(Num(r, "segmentSeconds", 600));
    record_opts_.format = Str(r, "format", "mp4");
    record_opts_.retry_us = Micros(Num(r, "retrySeconds", 5));
  }
  buffer_us_ = Micros(Num(o, "bufferSeconds", 300));
  max_bytes_ = (int64_t)Num(o, "maxBufferBytes", 512.0 * 1024 * 1024);
}

Recorder::~Recorder() {
  SetMeter(nullptr);  // before the members it posts through go
  if (ingest_) {
    ingest_->RequestStop();
    ingest_->Join();
  }
}

void Recorder::AtTeardown(void* self) {
  // process.exit() while recording: the thread must not outlive the environment it reports to.
  auto* r = static_cast<Recorder*>(self);
  r->ingest_->RequestStop();
  r->ingest_->Join();
  if (r->writer_) r->writer_->Abort();
  r->writer_.reset();
}

void Recorder::Finalize(Napi::Env env) {
  if (reported_bytes_) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
  reported_bytes_ = 0;
}

void Recorder::Post(Build build) {
  // Non-blocking: the ingest thread never waits for JavaScript (the queue is unbounded).
  tsfn_.NonBlockingCall([build = std::move(build)](Napi::Env env, Napi::Function emit) {
    if (env != nullptr) build(env, emit);
  });
}

std::shared_ptr<PacketRing> Recorder::RingOrThrow(Napi::Env env) {
  if (!ring_) throw MakeError(env, {code::kNotStarted, "The recorder is not started (call start() first)"});
  return ring_;
}

void Recorder::ReportMemory(Napi::Env env) {
  int64_t now = 0;
  if (ring_) {
    RingStats s = ring_->Stats();
    now = s.held + s.packets * kEntryOverhead;
  }
  if (now != reported_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, now - reported_bytes_);
    reported_bytes_ = now;
  }
}

Napi::Value Recorder::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (running_) throw MakeError(env, {code::kAlreadyStarted, "The recorder was already started"});
  if (!info[0].IsFunction()) throw MakeError(env, {code::kInvalidArg, "start(emit) expects a function"});
  ReleaseRing(env);  // a buffer left by a run that ended: the new run starts empty
  started_run_ = false;
  ring_ = std::make_shared<PacketRing>(buffer_us_, max_bytes_);
  ingest_ = std::make_unique<Ingest>(opts_, ring_, this);
  // Subscribed before the first packet: a segment misses nothing of the run.
  writer_ = record_ ? std::make_unique<SegmentWriter>(record_opts_, ring_, this) : nullptr;
  running_ = true;
  // Created per run and released after the thread's last event: while it exists it keeps the process
  // (and this object) alive, as a running recorder should; a stopped one can be collected.
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "av-rewind:events", 0, 1);
  napi_add_env_cleanup_hook(env, &Recorder::AtTeardown, this);
  try {
    if (writer_) writer_->Start();
    ingest_->Start();
  } catch (const std::exception& e) {  // no thread: undo the run
    writer_.reset();
    napi_remove_env_cleanup_hook(env, &Recorder::AtTeardown, this);
    tsfn_.Release();
    running_ = false;
    ring_.reset();
    throw MakeError(env, {code::kOpenInput, std::string("Could not start the ingest thread: ") + e.what()});
  }
  return env.Undefined();
}

Napi::Value Recorder::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = Napi::Promise::Deferred::New(env);
  if (!running_) {
    // Ended by itself or never started: stopping releases the buffer.
    ReleaseRing(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  stop_waiters_.push_back(d);
  ingest_->RequestStop();  // the interrupt callback makes any blocking libav call return now
  return d.Promise();
}

Napi::Value Recorder::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  SaveRequest req;
  req.id = (uint32_t)Num(o, "id", 0);
  req.last = o.Has("last");
  req.wall = Str(o, "clock") == "wall";
  req.from = req.last ? Num(o, "last", 0) : Num(o, "from", 0);
  req.to = Num(o, "to", 0);
  req.mux.path = Str(o, "path");
  req.mux.format = Str(o, "format");
  req.mux.faststart = Bool(o, "faststart", false);
  req.partial = Bool(o, "partial", false);
  if (Bool(o, "waitOnly", false)) req.wait_only = req.partial = true;
  // exportMp3 / exportAudio ({ audio: spec }), or a clip with its MP3 beside it ({ mp3: spec }).
  if (o.Get("audio").IsObject()) {
    req.audio_only = true;
    req.audio = ExportSpecFromJs(o.Get("audio").As<Napi::Object>());
  }
  if (o.Get("mp3").IsObject()) {
    req.with_mp3 = true;
    req.mp3 = ExportSpecFromJs(o.Get("mp3").As<Napi::Object>());
  }
  return saves_.Submit(Value(), RingOrThrow(env), std::move(req), running_);
}

// footage({ path, from, to, segments }): disk segments joined with this recorder's buffer, off the loop.
Napi::Value Recorder::Footage(const Napi::CallbackInfo& info) {
  return QueueFootage(info.Env(), FootageFromJs(info[0].As<Napi::Object>()), ring_);
}

Napi::Value Recorder::Progress(const Napi::CallbackInfo& info) {
  return saves_.Progress(info.Env(), info[0].As<Napi::Number>().Uint32Value());
}

Napi::Value Recorder::Cancel(const Napi::CallbackInfo& info) {
  saves_.Cancel(info.Env(), info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value Recorder::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReportMemory(env);
  Napi::Object o = Napi::Object::New(env);
  RingStats s = ring_ ? ring_->Stats() : RingStats{};
  o.Set("packets", Napi::Number::New(env, (double)s.packets));
  o.Set("bytes", Napi::Number::New(env, (double)s.held));
  o.Set("payload", Napi::Number::New(env, (double)s.bytes));
  o.Set("gops", Napi::Number::New(env, (double)s.gops));
  o.Set("empty", s.empty);
  o.Set("oldest", Seconds(env, s.oldest));
  o.Set("newest", Seconds(env, s.newest));
  o.Set("oldestTime", s.has_wall ? Napi::Number::New(env, s.oldest_wall / 1e3) : env.Null());
  o.Set("newestTime", s.has_wall ? Napi::Number::New(env, s.newest_wall / 1e3) : env.Null());
  o.Set("totalPackets", Napi::Number::New(env, (double)s.total_packets));
  o.Set("totalBytes", Napi::Number::New(env, (double)s.total_bytes));
  o.Set("evictedPackets", Napi::Number::New(env, (double)s.evicted_packets));
  o.Set("memory", Napi::Number::New(env, (double)reported_bytes_));
  o.Set("reconnects", ingest_ ? ingest_->reconnects() : 0);
  o.Set("framesDecoded", Napi::Number::New(env, (double)frames_->decoded.load()));
  o.Set("bytesRead", Napi::Number::New(env, ingest_ ? (double)ingest_->bytes_read() : 0));
  Napi::Array gaps = Napi::Array::New(env);
  if (ring_) {
    uint32_t i = 0;
    for (const Gap& g : ring_->Gaps()) {
      Napi::Object go = Napi::Object::New(env);
      go.Set("from", Seconds(env, g.from));
      go.Set("to", Seconds(env, g.to));
      gaps.Set(i++, go);
    }
  }
  o.Set("gaps", gaps);
  return o;
}

// setSource({ url, inputOptions, readRate? } | { error: { code, message } }): the source a resolver
// (yt-dlp) found. Before start(): what the run opens. While the thread waits on OnResolve: its answer.
Napi::Value Recorder::SetSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  Failure failure;
  if (o.Get("error").IsObject()) {
    Napi::Object e = o.Get("error").As<Napi::Object>();
    failure = {Str(e, "code"), Str(e, "message")};
  }
  std::string url = Str(o, "url");
  auto input_options = InputOptions(o.Get("inputOptions"));
  if (!running_) {
    if (!failure.code.empty()) return env.Undefined();
    opts_.url = url;
    opts_.input_options = input_options;
    if (o.Has("readRate")) opts_.read_rate = Num(o, "readRate", 0);
    if (o.Has("reconnect")) opts_.reconnect = Bool(o, "reconnect", opts_.reconnect);
  } else if (ingest_) {
    ingest_->SetSource(std::move(url), std::move(input_options), std::move(failure));
  }
  return env.Undefined();
}

void Recorder::SetMeter(std::shared_ptr<AudioMeter> m) {
  std::shared_ptr<AudioMeter> old;
  {
    std::lock_guard<std::mutex> lock(meter_mu_);
    old = std::move(meter_);
    meter_ = std::move(m);
  }
  // `old` stops and joins here, outside the lock (or later, on the ingest thread, if it is waiting on it).
}

// grab({ at: 'latest' | 'keyframe' | timelineSeconds, format, quality, width, height }): a frame, off the loop.
Napi::Value Recorder::Grab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  GrabOptions g;
  Napi::Value at = o.Get("at");
  if (at.IsNumber()) {
    g.at = GrabOptions::At::kInstant;
    g.t = ClampUs(std::round(at.As<Napi::Number>().DoubleValue() * 1e6));  // 1.56 s is 1560000 µs
  } else if (at.IsString() && at.As<Napi::String>().Utf8Value() == "keyframe") {
    g.at = GrabOptions::At::kKeyframe;
  }
  g.keyframe_only = Bool(o, "keyframeOnly", false);
  g.image = ImageFromJs(o);
  return QueueGrab(env, RingOrThrow(env), frames_, g);
}

// toTimeline(epochMs): the timeline seconds of a wall-clock instant, by the same map saves use.
Napi::Value Recorder::ToTimeline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<PacketRing> ring = RingOrThrow(env);
  return Seconds(env, ring->WallToTimeline(ClampUs(info[0].As<Napi::Number>().DoubleValue() * 1000)));
}

void Recorder::OnResolve() {
  Post([](Napi::Env env, Napi::Function emit) { emit.Call({Napi::String::New(env, "resolve")}); });
}

// meter(track, windowSeconds) starts the audio meter on this run's buffer; meter(null) stops it.
Napi::Value Recorder::Meter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    auto_meter_us_ = 0;
    SetMeter(nullptr);  // joins at once: the thread waits on its queue, which this closes
    return env.Undefined();
  }
  const int track = info[0].As<Napi::Number>().Int32Value();
  // Rounded, not truncated: 0.05 s is 50000 µs even when 0.05 × 1e6 is 49999.99….
  const int64_t window = std::max<int64_t>(1, std::llround(info[1].As<Napi::Number>().DoubleValue() * 1e6));
  if (track < 0) {
    // Before start(): the ingest thread starts the meter on the audio track with the first packet, so
    // a source read faster than JavaScript reacts is measured whole, and before 'end'.
    auto_meter_us_ = window;
    return env.Undefined();
  }
  std::shared_ptr<PacketRing> ring = RingOrThrow(env);
  if (auto m = CurrentMeter(); m && m->window() == window) return env.Undefined();
  SetMeter(nullptr);
  // Started after the run ended, the meter only fills its envelope from the buffer: no events.
  SetMeter(MakeMeter(ring, track, window, running_));
  return env.Undefined();
}

std::shared_ptr<AudioMeter> Recorder::CurrentMeter() {
  std::lock_guard<std::mutex> lock(meter_mu_);
  return meter_;
}

std::shared_ptr<AudioMeter> Recorder::MakeMeter(std::shared_ptr<PacketRing> ring, int track, int64_t window, bool live) {
  std::weak_ptr<PacketRing> weak = ring;
  return std::make_shared<AudioMeter>(
      ring, track, window,
      [this, weak, live](std::vector<Level>&& levels, bool backfill) {
        if (!live) return;
        std::vector<int64_t> walls(levels.size(), 0);
        if (auto r = weak.lock())
          for (size_t i = 0; i < levels.size(); i++) walls[i] = r->TimelineToWall(levels[i].start);
        Post([levels = std::move(levels), walls = std::move(walls), backfill](Napi::Env env, Napi::Function emit) {
          Napi::Object o = LevelsToJs(env, levels, walls);
          o.Set("backfill", backfill);
          emit.Call({Napi::String::New(env, "levels"), o});
        });
      },
      [this, live](const std::string& message) {
        if (!live) return;
        Post([message](Napi::Env env, Napi::Function emit) {
          emit.Call({Napi::String::New(env, "meterError"), MakeError(env, {code::kDecode, message}).Value()});
        });
      });
}

// levels(fromUs, toUs): the windows still buffered that start in [from, to).
Napi::Value Recorder::Levels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<AudioMeter> meter = CurrentMeter();
  if (!meter) return env.Null();
  const int64_t from = ClampUs(info[0].As<Napi::Number>().DoubleValue());
  const int64_t to = ClampUs(info[1].As<Napi::Number>().DoubleValue());
  std::vector<Level> levels = meter->Range(from, to);
  std::vector<int64_t> walls(levels.size(), 0);
  if (ring_)
    for (size_t i = 0; i < levels.size(); i++) walls[i] = ring_->TimelineToWall(levels[i].start);
  Napi::Object o = LevelsToJs(env, levels, walls);
  o.Set("window", Seconds(env, meter->window()));
  return o;
}

void Recorder::ReleaseRing(Napi::Env env) {
  SetMeter(nullptr);  // it holds the ring too
  if (!ring_) return;
  (new ReleaseWorker(env, std::move(ring_)))->Queue();
  ring_.reset();
  ReportMemory(env);
}

void Recorder::OnStarted(const SourceInfo& info) {
  Post([this, info](Napi::Env env, Napi::Function emit) {
    started_run_ = true;
    emit.Call({Napi::String::New(env, "started"), SourceInfoToJs(env, info)});
  });
  // After 'started' is queued, so that its levels follow it.
  if (const int64_t window = auto_meter_us_.load(); window > 0 && !CurrentMeter()) {
    for (const StreamInfo& st : info.streams)
      if (st.type == AVMEDIA_TYPE_AUDIO) {
        SetMeter(MakeMeter(ring_, st.track, window, true));  // ring_ is fixed while the thread runs
        break;
      }
  }
}

void Recorder::OnReconnecting(int attempt, int64_t delay_us, const Failure& why) {
  Post([attempt, delay_us, why](Napi::Env env, Napi::Function emit) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("attempt", attempt);
    o.Set("delay", Seconds(env, delay_us));
    o.Set("error", MakeError(env, why).Value());
    emit.Call({Napi::String::New(env, "reconnecting"), o});
  });
}

void Recorder::OnReconnected(int attempt, const SourceInfo& info, int64_t gap_from, int64_t gap_to) {
  Post([attempt, info, gap_from, gap_to](Napi::Env env, Napi::Function emit) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("attempt", attempt);
    o.Set("info", SourceInfoToJs(env, info));
    if (gap_from != INT64_MIN) {
      Napi::Object g = Napi::Object::New(env);
      g.Set("from", Seconds(env, gap_from));
      g.Set("to", Seconds(env, gap_to));
      o.Set("gap", g);
    } else {
      o.Set("gap", env.Null());
    }
    emit.Call({Napi::String::New(env, "reconnected"), o});
  });
}

void Recorder::OnNewest(int64_t newest_us) {
  std::vector<uint32_t> ready = saves_.ReadyIds(newest_us);
  if (!ready.empty()) Post([this, ready](Napi::Env env, Napi::Function) { saves_.Launch(env, ready); });
}

void Recorder::OnWarning(const std::string& code, const std::string& message) {
  Post([code, message](Napi::Env env, Napi::Function emit) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("code", code);
    o.Set("message", message);
    emit.Call({Napi::String::New(env, "warning"), o});
  });
}

namespace {
Napi::Object SegmentToJs(Napi::Env env, const SegmentInfo& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("file", s.file);
  o.Set("startTime", s.start_wall ? Napi::Number::New(env, s.start_wall / 1e3) : env.Null());
  o.Set("endTime", s.end_wall ? Napi::Number::New(env, s.end_wall / 1e3) : env.Null());
  o.Set("start", Seconds(env, s.timeline_start));
  o.Set("end", Seconds(env, s.timeline_end));
  o.Set("bytes", Napi::Number::New(env, (double)s.bytes));
  o.Set("complete", s.complete);
  return o;
}
}  // namespace

void Recorder::OnSegmentOpened(const SegmentInfo& s) {
  Post([s](Napi::Env env, Napi::Function emit) { emit.Call({Napi::String::New(env, "segment-open"), SegmentToJs(env, s)}); });
}

void Recorder::OnSegmentClosed(const SegmentInfo& s) {
  Post([s](Napi::Env env, Napi::Function emit) { emit.Call({Napi::String::New(env, "segment"), SegmentToJs(env, s)}); });
}

void Recorder::OnRecordError(const Failure& f) {
  Post([f](Napi::Env env, Napi::Function emit) { emit.Call({Napi::String::New(env, "record-error"), MakeError(env, f).Value()}); });
}

void Recorder::OnRecordWarning(const std::string& code, const std::string& message) { OnWarning(code, message); }

void Recorder::OnEnd(const Failure& why, bool started) {
  // Every level (and so every spike) of what was buffered reaches JavaScript before 'end' does.
  if (std::shared_ptr<AudioMeter> meter = CurrentMeter()) meter->WaitDone();
  Post([this, why, started](Napi::Env env, Napi::Function emit) {
    end_reason_ = why;
    Napi::Object o = Napi::Object::New(env);
    o.Set("started", started);
    o.Set("error", why.code.empty() ? env.Null() : MakeError(env, why).Value());
    emit.Call({Napi::String::New(env, "end"), o});
  });
}

void Recorder::OnClosed() {
  // The subscription ended with the thread: the disk recorder writes what it still holds, closes its
  // segment and reports it, all before 'closed'.
  if (writer_) writer_->Join();
  Post([this](Napi::Env env, Napi::Function emit) {
    writer_.reset();
    ingest_->Join();  // the thread has made its last call; this returns at once
    running_ = false;
    const bool stopping = !stop_waiters_.empty();
    saves_.Closed(env, stopping, end_reason_.message);
    // Ended by itself: the meter has read everything (OnEnd waited for it). Stopped: it is stopped with
    // the buffer (ReleaseRing), not waited for, so stop() never waits on a backlog.
    if (auto m = CurrentMeter(); m && !stopping) m->Finish();
    // stop() releases the buffer (running saves keep their own references); so does a run that never started.
    if (stopping || !started_run_) ReleaseRing(env);
    for (auto& d : stop_waiters_) d.Resolve(env.Undefined());
    stop_waiters_.clear();
    napi_remove_env_cleanup_hook(env, &Recorder::AtTeardown, this);
    tsfn_.Release();
    // Last: a listener that throws must not leave the bookkeeping above undone.
    emit.Call({Napi::String::New(env, "closed")});
  });
}

}  // namespace avr
