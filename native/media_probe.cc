#include "media_probe.h"

#include <algorithm>
#include <climits>

#include "errors.h"
#include "input.h"
#include "js_convert.h"
#include "promise_worker.h"

namespace avr {

namespace {

struct ProbeResult {
  int64_t start = 0, end = 0, packets = 0, keyframes = 0;
};

class ProbeWorker : public PromiseWorker {
 public:
  ProbeWorker(Napi::Env env, std::string url) : PromiseWorker(env, "av-rewind:probe", code::kOpenInput), url_(std::move(url)) {}

 private:
  void Run() override {
    InputRequest in;
    in.url = url_;
    InputPtr ic = OpenInput(in);
    PacketPtr pkt = MakePacket();
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    while (av_read_frame(ic.get(), pkt.get()) >= 0) {
      const AVStream* st = ic->streams[pkt->stream_index];
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts != AV_NOPTS_VALUE) {
        const int64_t t = av_rescale_q(ts, st->time_base, kMicros);
        lo = std::min(lo, t);
        hi = std::max(hi, t + av_rescale_q(std::max<int64_t>(pkt->duration, 0), st->time_base, kMicros));
      }
      r_.packets++;
      if ((pkt->flags & AV_PKT_FLAG_KEY) && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) r_.keyframes++;
      av_packet_unref(pkt.get());
    }
    if (lo != INT64_MAX) {
      r_.start = lo;
      r_.end = hi;
    }
  }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("start", Seconds(env, r_.start));
    o.Set("duration", Seconds(env, r_.end - r_.start));
    o.Set("packets", Napi::Number::New(env, (double)r_.packets));
    o.Set("keyframes", Napi::Number::New(env, (double)r_.keyframes));
    return o;
  }

  std::string url_;
  ProbeResult r_;
};

}  // namespace

Napi::Value ProbeMediaBinding(const Napi::CallbackInfo& info) {
  auto* w = new ProbeWorker(info.Env(), info[0].As<Napi::String>().Utf8Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace avr
