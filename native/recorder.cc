#include "recorder.h"

#include <algorithm>

#include "js_convert.h"
#include "remux.h"

namespace avr {

namespace {

// lib/options.ts validates everything; these only read what it passes.
std::string Str(const Napi::Object& o, const char* k, const std::string& def = "") {
  Napi::Value v = o.Get(k);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}
double Num(const Napi::Object& o, const char* k, double def) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}
bool Bool(const Napi::Object& o, const char* k, bool def) {
  Napi::Value v = o.Get(k);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}
// Times arrive from JavaScript as doubles; clamp so the conversion to int64 is always defined.
int64_t ClampUs(double us) { return us != us ? 0 : (int64_t)std::max(-4.0e18, std::min(4.0e18, us)); }
int64_t Micros(double seconds) { return ClampUs(seconds * 1e6); }

// Frees a buffer (up to maxBufferBytes of packets) on a worker thread instead of the event loop.
class ReleaseWorker : public Napi::AsyncWorker {
 public:
  ReleaseWorker(Napi::Env env, std::shared_ptr<PacketRing> ring) : Napi::AsyncWorker(env, "av-rewind:release"), ring_(std::move(ring)) {}
  void Execute() override { ring_.reset(); }

 private:
  std::shared_ptr<PacketRing> ring_;
};

// V8 sees the ring's memory: payload plus what each entry costs besides it.
constexpr int64_t kEntryOverhead = sizeof(RingEntry) + sizeof(AVPacket) + 64;

struct SaveRequest {
  bool last = false;       // saveLast: from = newest - seconds
  bool wall = false;       // from/to are µs since the epoch
  double from = 0, to = 0;  // µs
  RemuxOptions remux;
  std::shared_ptr<std::atomic<bool>> cancel;
};

// The save runs on a worker thread; the ring outlives it through the shared_ptr.
class SaveWorker : public Napi::AsyncWorker {
 public:
  SaveWorker(Napi::Object recorder, std::shared_ptr<PacketRing> ring, SaveRequest req, std::function<void()> done)
      : Napi::AsyncWorker(recorder.Env(), "av-rewind:save"),
        deferred_(Napi::Promise::Deferred::New(recorder.Env())),
        recorder_(Napi::Persistent(recorder)),  // `done` touches the Recorder: keep it alive until then
        ring_(std::move(ring)),
        req_(std::move(req)),
        done_(std::move(done)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      int64_t from, to;
      if (req_.last) {
        to = ring_->Newest();
        from = to - ClampUs(req_.from);
      } else if (req_.wall) {
        from = ring_->WallToTimeline(ClampUs(req_.from));
        to = ring_->WallToTimeline(ClampUs(req_.to));
      } else {
        from = ClampUs(req_.from);
        to = ClampUs(req_.to);
      }
      snap_ = ring_->Select(from, to);
      req_.remux.cancel = req_.cancel.get();
      result_ = Remux(snap_, req_.remux);
      start_wall_ = snap_.start_wall;
      end_wall_ = snap_.start_wall + result_.duration;
    } catch (const Exception& e) {
      failure_ = e.failure();
    } catch (const std::exception& e) {
      failure_ = {code::kWrite, e.what(), 0};
    }
    snap_.packets.clear();  // drop the references here, off the main thread
  }

  void OnOK() override {
    done_();
    Napi::Env env = Env();
    if (!failure_.code.empty()) {
      deferred_.Reject(MakeError(env, failure_).Value());
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("path", req_.remux.path);
    r.Set("format", result_.format);
    r.Set("start", Seconds(env, snap_.start));
    r.Set("end", Seconds(env, snap_.start + result_.duration));
    r.Set("startTime", Napi::Number::New(env, start_wall_ / 1e3));
    r.Set("endTime", Napi::Number::New(env, end_wall_ / 1e3));
    r.Set("duration", Seconds(env, result_.duration));
    r.Set("requestedFrom", Seconds(env, snap_.requested_from));
    r.Set("requestedTo", Seconds(env, snap_.requested_to));
    r.Set("bytes", Napi::Number::New(env, (double)result_.bytes));
    r.Set("packets", Napi::Number::New(env, (double)result_.packets));
    r.Set("gaps", snap_.gaps);
    Napi::Array streams = Napi::Array::New(env, snap_.tracks.size());
    for (size_t i = 0; i < snap_.tracks.size(); i++) {
      const AVCodecParameters* p = snap_.tracks[i].par.get();
      Napi::Object s = Napi::Object::New(env);
      s.Set("type", snap_.tracks[i].type == AVMEDIA_TYPE_VIDEO ? "video" : "audio");
      s.Set("codec", avcodec_get_name(p ? p->codec_id : AV_CODEC_ID_NONE));
      streams.Set(i, s);
    }
    r.Set("streams", streams);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override {
    done_();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference recorder_;
  std::shared_ptr<PacketRing> ring_;
  SaveRequest req_;
  std::function<void()> done_;
  Snapshot snap_;
  RemuxResult result_;
  Failure failure_;
  int64_t start_wall_ = 0, end_wall_ = 0;
};

}  // namespace

Napi::Function Recorder::Define(Napi::Env env) {
  return DefineClass(env, "NativeRecorder",
                     {InstanceMethod("start", &Recorder::Start), InstanceMethod("stop", &Recorder::Stop),
                      InstanceMethod("save", &Recorder::Save), InstanceMethod("waitFor", &Recorder::WaitFor),
                      InstanceMethod("cancel", &Recorder::Cancel), InstanceMethod("stats", &Recorder::Stats)});
}

Recorder::Recorder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Recorder>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw MakeError(env, {code::kInvalidArg, "NativeRecorder(options) expects an object"});
  }
  Napi::Object o = info[0].As<Napi::Object>();
  opts_.url = Str(o, "url");
  opts_.format = Str(o, "format");
  Napi::Value io = o.Get("inputOptions");
  if (io.IsObject()) {
    Napi::Object m = io.As<Napi::Object>();
    Napi::Array keys = m.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).ToString().Utf8Value();
      opts_.input_options.emplace_back(k, m.Get(k).ToString().Utf8Value());
    }
  }
  opts_.read_rate = Num(o, "readRate", 0);
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
  }
  buffer_us_ = Micros(Num(o, "bufferSeconds", 300));
  max_bytes_ = (int64_t)Num(o, "maxBufferBytes", 512.0 * 1024 * 1024);
}

Recorder::~Recorder() {
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
    now = s.bytes + s.packets * kEntryOverhead;
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
  running_ = true;
  // Created per run and released after the thread's last event: while it exists it keeps the process
  // (and this object) alive, as a running recorder should; a stopped one can be collected.
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "av-rewind:events", 0, 1);
  napi_add_env_cleanup_hook(env, &Recorder::AtTeardown, this);
  try {
    ingest_->Start();
  } catch (const std::exception& e) {  // no thread: undo the run
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
  auto ring = RingOrThrow(env);
  SaveRequest req;
  req.last = o.Has("last");
  req.wall = Str(o, "clock") == "wall";
  req.from = req.last ? Num(o, "last", 0) : Num(o, "from", 0);
  req.to = Num(o, "to", 0);
  req.remux.path = Str(o, "path");
  req.remux.format = Str(o, "format");
  req.remux.faststart = Bool(o, "faststart", false);
  req.cancel = std::make_shared<std::atomic<bool>>(false);
  const uint32_t id = (uint32_t)Num(o, "id", 0);
  cancels_[id] = req.cancel;
  auto* w = new SaveWorker(Value(), std::move(ring), std::move(req), [this, id] { cancels_.erase(id); });
  w->Queue();
  return w->Promise();
}

Napi::Value Recorder::WaitFor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  auto ring = RingOrThrow(env);
  auto d = Napi::Promise::Deferred::New(env);
  int64_t to = ClampUs(Num(o, "to", 0));
  if (Str(o, "clock") == "wall") to = ring->WallToTimeline(to);
  const uint32_t id = (uint32_t)Num(o, "id", 0);
  if (ring->Newest() >= to) {
    d.Resolve(env.Undefined());
  } else if (!running_) {
    d.Reject(MakeError(env, {code::kSourceEnded, "The source has ended; the buffer will not reach the requested end" + (end_reason_.message.empty() ? std::string() : " (" + end_reason_.message + ")")}).Value());
  } else {
    wait_promises_.emplace(id, d);
    std::lock_guard<std::mutex> lock(waiters_mu_);
    waiters_.emplace(to, id);
    earliest_waiter_ = waiters_.begin()->first;
  }
  return d.Promise();
}

Napi::Value Recorder::Cancel(const Napi::CallbackInfo& info) {
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (auto it = cancels_.find(id); it != cancels_.end()) it->second->store(true);
  if (wait_promises_.count(id)) {
    {
      std::lock_guard<std::mutex> lock(waiters_mu_);
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        if (it->second == id) {
          waiters_.erase(it);
          break;
        }
      }
      earliest_waiter_ = waiters_.empty() ? INT64_MAX : waiters_.begin()->first;
    }
    Failure f{code::kAborted, "The save was aborted while waiting for post-roll"};
    SettleWaiters({id}, &f);
  }
  return info.Env().Undefined();
}

Napi::Value Recorder::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReportMemory(env);
  Napi::Object o = Napi::Object::New(env);
  RingStats s = ring_ ? ring_->Stats() : RingStats{};
  o.Set("packets", Napi::Number::New(env, (double)s.packets));
  o.Set("bytes", Napi::Number::New(env, (double)s.bytes));
  o.Set("gops", Napi::Number::New(env, (double)s.gops));
  o.Set("empty", s.empty);
  o.Set("oldest", Seconds(env, s.oldest));
  o.Set("newest", Seconds(env, s.newest));
  o.Set("oldestTime", Napi::Number::New(env, s.oldest_wall / 1e3));
  o.Set("newestTime", Napi::Number::New(env, s.newest_wall / 1e3));
  o.Set("totalPackets", Napi::Number::New(env, (double)s.total_packets));
  o.Set("totalBytes", Napi::Number::New(env, (double)s.total_bytes));
  o.Set("evictedPackets", Napi::Number::New(env, (double)s.evicted_packets));
  o.Set("memory", Napi::Number::New(env, (double)reported_bytes_));
  o.Set("reconnects", ingest_ ? ingest_->reconnects() : 0);
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

void Recorder::SettleWaiters(const std::vector<uint32_t>& ids, const Failure* why) {
  // Main thread.
  for (uint32_t id : ids) {
    auto it = wait_promises_.find(id);
    if (it == wait_promises_.end()) continue;
    if (why)
      it->second.Reject(MakeError(it->second.Env(), *why).Value());
    else
      it->second.Resolve(it->second.Env().Undefined());
    wait_promises_.erase(it);
  }
}

void Recorder::ReleaseRing(Napi::Env env) {
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
  if (newest_us < earliest_waiter_.load(std::memory_order_relaxed)) return;
  std::vector<uint32_t> ready;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    while (!waiters_.empty() && waiters_.begin()->first <= newest_us) {
      ready.push_back(waiters_.begin()->second);
      waiters_.erase(waiters_.begin());
    }
    earliest_waiter_ = waiters_.empty() ? INT64_MAX : waiters_.begin()->first;
  }
  if (!ready.empty()) Post([this, ready](Napi::Env, Napi::Function) { SettleWaiters(ready, nullptr); });
}

void Recorder::OnEnd(const Failure& why, bool started) {
  Post([this, why, started](Napi::Env env, Napi::Function emit) {
    end_reason_ = why;
    Napi::Object o = Napi::Object::New(env);
    o.Set("started", started);
    o.Set("error", why.code.empty() ? env.Null() : MakeError(env, why).Value());
    emit.Call({Napi::String::New(env, "end"), o});
  });
}

void Recorder::OnClosed() {
  Post([this](Napi::Env env, Napi::Function emit) {
    ingest_->Join();  // the thread has made its last call; this returns at once
    running_ = false;
    // Post-roll waits: met if the last packets reached them, otherwise they never will be.
    const int64_t newest = ring_ ? ring_->Newest() : INT64_MIN;
    std::vector<uint32_t> met, unmet;
    {
      std::lock_guard<std::mutex> lock(waiters_mu_);
      for (auto& w : waiters_) (w.first <= newest ? met : unmet).push_back(w.second);
      waiters_.clear();
      earliest_waiter_ = INT64_MAX;
    }
    const bool stopping = !stop_waiters_.empty();
    Failure f = stopping ? Failure{code::kStopped, "The recorder stopped before the buffer reached the requested end"}
                         : Failure{code::kSourceEnded, "The source ended before the buffer reached the requested end"};
    SettleWaiters(met, nullptr);
    SettleWaiters(unmet, &f);
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
