#include "grab_worker.h"

#include "errors.h"
#include "js_convert.h"

namespace avr {

namespace {

// The baton: the ring (held while the grab runs) and the options in, the frame or the failure out.
class GrabWorker : public Napi::AsyncWorker {
 public:
  GrabWorker(Napi::Env env, std::shared_ptr<PacketRing> ring, std::shared_ptr<FrameCache> cache, GrabOptions o)
      : Napi::AsyncWorker(env, "av-rewind:grab"),
        deferred_(env),
        ring_(std::move(ring)),
        cache_(std::move(cache)),
        o_(std::move(o)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      frame_ = GrabFrame(*ring_, o_, *cache_);
      wall_ = ring_->TimelineToWall(frame_.pts);
    } catch (const Exception& e) {
      failure_ = e.failure();
    } catch (const std::exception& e) {
      failure_ = {code::kDecode, e.what(), 0};
    }
    ring_.reset();  // the packets' references go here, off the main thread
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!failure_.code.empty()) {
      deferred_.Reject(MakeError(env, failure_).Value());
      return;
    }
    Napi::Object r = ImageToJs(env, std::move(frame_.image));
    r.Set("timeline", Seconds(env, frame_.pts));
    r.Set("time", wall_ ? Napi::Number::New(env, wall_ / 1e3) : env.Null());
    r.Set("keyframe", frame_.key);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<PacketRing> ring_;
  std::shared_ptr<FrameCache> cache_;
  GrabOptions o_;
  Grabbed frame_;
  int64_t wall_ = 0;
  Failure failure_;
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
