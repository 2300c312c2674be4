#include "saves.h"

#include <algorithm>
#include <cstdio>

#include "clip.h"
#include "errors.h"
#include "js_convert.h"

namespace avr {

namespace {

// The tail of a clip depends on a few frames around its end only: check finality on those.
constexpr int64_t kTailUs = 5'000'000;

// Query, plan and write on a libuv worker. The baton: everything Execute needs, nothing from V8.
class SaveWorker : public Napi::AsyncWorker {
 public:
  SaveWorker(Napi::Env env, std::shared_ptr<Napi::Promise::Deferred> deferred,
             std::shared_ptr<Napi::ObjectReference> recorder, std::shared_ptr<PacketRing> ring, SaveRequest req,
             int64_t from, std::shared_ptr<std::atomic<bool>> cancel, std::function<void()> done)
      : Napi::AsyncWorker(env, "av-rewind:save"),
        deferred_(std::move(deferred)),
        recorder_(std::move(recorder)),  // `done` touches the Recorder: keep it alive until then
        ring_(std::move(ring)),
        req_(std::move(req)),
        from_(from),
        cancel_(std::move(cancel)),
        done_(std::move(done)) {}

  void Execute() override {
    try {
      RangeResult range;
      ClipPlan plan;
      int64_t to;
      {
        std::shared_ptr<PacketRing> ring = std::move(ring_);  // held only while references are taken
        // saveLast's end was fixed when it was called (Submit): a save takes what was there then.
        to = req_.last || !req_.wall ? ClampUs(req_.to) : ring->WallToTimeline(ClampUs(req_.to));
        // A wall-clock instant maps for good once buffered: map `from` again, as `to`.
        const int64_t from = req_.last ? to - ClampUs(req_.from) : req_.wall ? ring->WallToTimeline(ClampUs(req_.from)) : from_;
        requested_from_ = from;
        requested_to_ = to;
        RangeQuery q;
        q.from = from;
        q.to = to;
        q.from_keyframe = !req_.audio_only;  // audio needs no keyframe; its decoder's preroll is in the slack
        range = ring->Query(q);
      }
      wall_ = range.wall;
      if (req_.audio_only) {
        req_.audio.mux.cancel = cancel_.get();
        export_ = ExportRange(range, requested_from_, requested_to_, req_.audio, req_.progress.get());
      } else {
        plan = PlanClip(range, requested_to_);
        req_.mux.cancel = cancel_.get();
        clip_ = WriteClip(range, plan, req_.mux);
        if (req_.with_mp3) {
          req_.mp3.mux.cancel = cancel_.get();
          try {
            mp3_ = ExportRange(range, clip_.start, clip_.end, req_.mp3, req_.progress.get());
          } catch (...) {
            std::remove(req_.mux.path.c_str());  // both or neither
            throw;
          }
        }
      }
      // The packets' references are dropped here with `range`, off the main thread.
    } catch (const Exception& e) {
      failure_ = e.failure();
    } catch (const std::exception& e) {
      failure_ = {code::kWrite, e.what(), 0};
    }
  }

  void OnOK() override {
    done_();
    Napi::Env env = Env();
    // An abort that reached Cancel before this settles wins, even when the worker had already
    // finished: both run on this thread, so "abort() right after the call" is never a coin toss.
    if (failure_.code.empty() && cancel_->load()) {
      std::remove((req_.audio_only ? req_.audio.mux.path : req_.mux.path).c_str());
      if (req_.with_mp3) std::remove(req_.mp3.mux.path.c_str());
      failure_ = {code::kAborted, req_.audio_only ? "The export was aborted" : "The save was aborted"};
    }
    if (!failure_.code.empty()) {
      deferred_->Reject(MakeError(env, failure_).Value());
      return;
    }
    if (req_.audio_only) {
      Napi::Object r = ExportToJs(env, export_, req_.audio.mux.path, wall_);
      r.Set("requestedFrom", Seconds(env, requested_from_));
      r.Set("requestedTo", Seconds(env, requested_to_));
      deferred_->Resolve(r);
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    if (req_.with_mp3) r.Set("mp3", ExportToJs(env, mp3_, req_.mp3.mux.path, wall_));
    r.Set("path", req_.mux.path);
    r.Set("format", clip_.mux.format);
    r.Set("start", Seconds(env, clip_.start));
    r.Set("end", Seconds(env, clip_.end));
    const bool wall = clip_.start_wall != 0;
    r.Set("startTime", wall ? Napi::Number::New(env, clip_.start_wall / 1e3) : env.Null());
    r.Set("endTime", wall ? Napi::Number::New(env, clip_.end_wall / 1e3) : env.Null());
    r.Set("duration", Seconds(env, clip_.end - clip_.start));
    r.Set("requestedFrom", Seconds(env, requested_from_));
    r.Set("requestedTo", Seconds(env, requested_to_));
    r.Set("bytes", Napi::Number::New(env, (double)clip_.mux.bytes));
    r.Set("packets", Napi::Number::New(env, (double)clip_.mux.packets));
    r.Set("dropped", Napi::Number::New(env, (double)clip_.mux.dropped));
    r.Set("gaps", clip_.gaps);
    r.Set("truncated", req_.truncated);
    r.Set("streams", StreamsToJs(env, clip_.tracks));
    deferred_->Resolve(r);
  }
  void OnError(const Napi::Error& e) override {
    done_();
    deferred_->Reject(e.Value());
  }

 private:
  std::shared_ptr<Napi::Promise::Deferred> deferred_;
  std::shared_ptr<Napi::ObjectReference> recorder_;
  std::shared_ptr<PacketRing> ring_;
  SaveRequest req_;
  int64_t from_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::function<void()> done_;
  int64_t requested_from_ = 0, requested_to_ = 0;
  ClipResult clip_;
  ExportResult export_, mp3_;
  WallMap wall_;
  Failure failure_;
};

}  // namespace

int64_t Saves::ResolveTo(const PacketRing& ring, const SaveRequest& req) {
  return req.wall ? ring.WallToTimeline(ClampUs(req.to)) : ClampUs(req.to);
}

bool Saves::Final(const PacketRing& ring, int64_t from, int64_t to) {
  if (ring.Newest() < to) return false;
  RangeQuery q;
  q.from = std::max(from, to - kTailUs);
  q.to = to;
  q.timing_only = true;
  q.from_keyframe = false;  // the tail alone decides; a long GOP is not copied on every packet
  try {
    return PlanClip(ring.Query(q), to).complete;
  } catch (const Exception&) {
    return true;  // the range is gone or empty: let the save run and report it
  }
}

Napi::Promise Saves::Submit(Napi::Object recorder, std::shared_ptr<PacketRing> ring, SaveRequest req, bool running) {
  Napi::Env env = recorder.Env();
  Waiting w;
  w.deferred = std::make_shared<Napi::Promise::Deferred>(env);
  Napi::Promise promise = w.deferred->Promise();
  if (req.wall && !ring->HasWallClock()) {
    w.deferred->Reject(MakeError(env, {code::kInvalidArg,
                                       "This source has no wall clock (a file read at full speed): give the range "
                                       "in timeline seconds ({ clock: 'timeline' }), or read it with readRate: 'native'"})
                           .Value());
    return promise;
  }
  w.recorder = std::make_shared<Napi::ObjectReference>(Napi::Persistent(recorder));
  progress_[req.id] = req.progress;
  w.cancel = std::make_shared<std::atomic<bool>>(false);
  if (req.last) req.to = (double)ring->Newest();  // the end is now, not when a worker gets to it
  w.from = req.last ? 0 : req.wall ? ring->WallToTimeline(ClampUs(req.from)) : ClampUs(req.from);
  w.to_hint = req.last ? 0 : ResolveTo(*ring, req);
  w.ring = std::move(ring);
  w.req = std::move(req);
  const uint32_t id = w.req.id;
  if (w.req.last || Final(*w.ring, w.from, w.to_hint)) {
    Run(env, std::move(w));
  } else if (!running && w.req.partial) {
    w.req.truncated = true;
    Run(env, std::move(w));
  } else if (!running && w.req.audio_only && w.from >= w.ring->Newest()) {
    progress_.erase(id);
    w.deferred->Reject(MakeError(env, {code::kRangeNotBuffered, "Nothing of that range is buffered, and the source has ended"}).Value());
  } else if (!running) {
    progress_.erase(id);
    w.deferred->Reject(MakeError(env, {code::kSourceEnded,
                                       "The source has ended; the buffer will not reach the requested end"})
                           .Value());
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    earliest_ = std::min<int64_t>(earliest_.load(), w.to_hint);
    waiting_.emplace(id, std::move(w));
  }
  return promise;
}

std::vector<uint32_t> Saves::ReadyIds(int64_t newest) {
  std::vector<uint32_t> ready;
  if (newest < earliest_.load(std::memory_order_relaxed)) return ready;
  std::lock_guard<std::mutex> lock(mu_);
  int64_t earliest = INT64_MAX;
  for (auto& [id, w] : waiting_) {
    // A wall-clock `to` maps for good once it is buffered: map it again until then.
    const int64_t to = ResolveTo(*w.ring, w.req);
    if (Final(*w.ring, w.from, to))
      ready.push_back(id);
    else
      earliest = std::min(earliest, to);
  }
  earliest_ = earliest;
  return ready;
}

void Saves::Launch(Napi::Env env, const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) {
    Waiting w;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = waiting_.find(id);
      if (it == waiting_.end()) continue;  // cancelled meanwhile
      w = std::move(it->second);
      waiting_.erase(it);
    }
    Run(env, std::move(w));
  }
}

void Saves::Run(Napi::Env env, Waiting w) {
  const uint32_t id = w.req.id;
  if (w.req.wait_only) {
    progress_.erase(id);
    w.deferred->Resolve(Napi::Boolean::New(env, !w.req.truncated));
    return;
  }
  running_[id] = w.cancel;
  auto* worker = new SaveWorker(env, w.deferred, w.recorder, std::move(w.ring), std::move(w.req), w.from, w.cancel,
                                [this, id] {
                                  running_.erase(id);
                                  progress_.erase(id);
                                });
  worker->Queue();
}

void Saves::Cancel(Napi::Env env, uint32_t id) {
  if (auto it = running_.find(id); it != running_.end()) it->second->store(true);
  Waiting w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    w = std::move(it->second);
    waiting_.erase(it);
  }
  progress_.erase(id);
  w.deferred->Reject(MakeError(env, {code::kAborted, "The save was aborted while waiting for post-roll"}).Value());
}

Napi::Value Saves::Progress(Napi::Env env, uint32_t id) {
  auto it = progress_.find(id);
  if (it == progress_.end()) return env.Null();
  return ProgressToJs(env, *it->second);
}

void Saves::Closed(Napi::Env env, bool stopped, const std::string& reason) {
  std::map<uint32_t, Waiting> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
    earliest_ = INT64_MAX;
  }
  for (auto& [id, w] : waiting) {
    // Reached by the last packets: save what there is. Otherwise the end will never come.
    const bool reached = w.ring->Newest() >= ResolveTo(*w.ring, w.req);
    if (reached || w.req.partial) {
      w.req.truncated = !reached;
      Run(env, std::move(w));
      continue;
    }
    Failure f = stopped ? Failure{code::kStopped, "The recorder stopped before the buffer reached the requested end"}
                        : Failure{code::kSourceEnded, "The source ended before the buffer reached the requested end" +
                                                          (reason.empty() ? std::string() : " (" + reason + ")")};
    if (!stopped && w.req.audio_only && w.from >= w.ring->Newest())
      f = {code::kRangeNotBuffered, "Nothing of that range is buffered, and the source has ended"};
    progress_.erase(id);
    w.deferred->Reject(MakeError(env, f).Value());
  }
}

}  // namespace avr
