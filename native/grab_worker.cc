#include "grab_worker.h"

#include "errors.h"
#include "js_convert.h"
#include "promise_worker.h"

namespace avr {

namespace {

// The baton: the ring (held while the grab runs) and the options in, the frame out.
class GrabWorker : public PromiseWorker {
 public:
  GrabWorker(Napi::Env env, std::shared_ptr<PacketRing> ring, std::shared_ptr<FrameCache> cache, GrabOptions o)
      : PromiseWorker(env, "av-rewind:grab", code::kDecode),
        ring_(std::move(ring)),
        cache_(std::move(cache)),
        o_(std::move(o)) {}

 private:
  void Run() override {
    const std::shared_ptr<PacketRing> ring = std::move(ring_);  // its packets' references go with Run, off the main thread
    frame_ = GrabFrame(*ring, o_, *cache_);
    wall_ = ring->TimelineToWall(frame_.pts);
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object r = ImageToJs(env, std::move(frame_.image));
    r.Set("timeline", Seconds(env, frame_.pts));
    r.Set("time", wall_ ? Napi::Number::New(env, wall_ / 1e3) : env.Null());
    r.Set("keyframe", frame_.key);
    return r;
  }

  std::shared_ptr<PacketRing> ring_;
  std::shared_ptr<FrameCache> cache_;
  GrabOptions o_;
  Grabbed frame_;
  int64_t wall_ = 0;
};

}  // namespace

Napi::Promise QueueGrab(Napi::Env env, std::shared_ptr<PacketRing> ring, std::shared_ptr<FrameCache> cache,
                        GrabOptions options) {
  auto* w = new GrabWorker(env, std::move(ring), std::move(cache), std::move(options));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace avr
