#include "snapshot.h"

#include <chrono>
#include <memory>
#include <thread>

#include "errors.h"
#include "js_convert.h"
#include "promise_worker.h"
#include "video_decoder.h"

namespace avr {

int SnapshotJob::InterruptCb(void* opaque) {
  auto* self = static_cast<SnapshotJob*>(opaque);
  return self->cancel_.load() || av_gettime_relative() > self->deadline_us_.load() ? 1 : 0;
}

// Every AVIOContext the demuxer opens (HLS playlists and segments, DASH fragments…) is counted when it
// closes; the main one when the input closes.
void SnapshotJob::Prepare(AVFormatContext* ic, void* opaque) {
  auto* self = static_cast<SnapshotJob*>(opaque);
  self->default_open_ = ic->io_open;
  self->default_close_ = ic->io_close2;
  ic->opaque = self;
  ic->io_open = IoOpen;
  ic->io_close2 = IoClose;
  // One frame needs no frame-rate estimate; probing for one reads ~2 s of an FLV/RTMP stream (170 KB
  // where 9 KB do). The user's inputOptions may still set it.
  ic->fps_probe_size = 0;
}

int SnapshotJob::IoOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary** opts) {
  return static_cast<SnapshotJob*>(s->opaque)->default_open_(s, pb, url, flags, opts);
}

int SnapshotJob::IoClose(AVFormatContext* s, AVIOContext* pb) {
  auto* self = static_cast<SnapshotJob*>(s->opaque);
  if (pb) self->bytes_ += pb->bytes_read;
  return self->default_close_(s, pb);
}

SnapshotResult SnapshotJob::Run(const SnapshotRequest& req) {
  const int64_t start = av_gettime_relative();
  deadline_us_ = start + req.timeout_us;
  const auto timed_out = [&] {
    char msg[160];
    snprintf(msg, sizeof msg, "No video frame from '%s' within the timeout (%g s)", req.input.url.c_str(), req.timeout_us / 1e6);
    Fail(code::kTimeout, msg);
  };
  InputRequest in = req.input;
  in.timeout_us = req.timeout_us;
  in.interrupt = {InterruptCb, this};
  in.deadline_us = nullptr;  // the whole job has one deadline
  in.stopped = &cancel_;
  in.prepare = Prepare;
  in.prepare_opaque = this;
  SnapshotResult res;
  InputPtr ic;
  try {
    ic = OpenInput(in);
  } catch (const Exception& e) {
    if (cancel_) Fail(code::kAborted, "The snapshot was aborted");
    if (e.failure().code == code::kTimeout) timed_out();
    throw;
  }
  const int vs = av_find_best_stream(ic.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (vs < 0) Fail(code::kNoVideo, "'" + req.input.url + "' has no video stream");
  for (unsigned i = 0; i < ic->nb_streams; i++) ic->streams[i]->discard = i == (unsigned)vs ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  AVStream* st = ic->streams[vs];
  VideoDecoder dec(st->codecpar, st->time_base, 1, nullptr);  // one frame: no frame threads
  FramePtr got = MakeFrame();
  bool have = false;
  int64_t arrived = 0;
  auto take = [&](AVFrame* f) {
    // A frame the decoder concealed (missing references) is not "decodable": wait for a clean one.
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) return true;
    av_frame_ref(got.get(), f);
    have = true;
    return false;
  };
  PacketPtr pkt = MakePacket();
  while (!have) {
    const int ret = av_read_frame(ic.get(), pkt.get());
    if (ret == AVERROR_EOF) {
      dec.Decode(nullptr, take);
      if (!have) Fail(code::kNoVideo, "'" + req.input.url + "' ended before a decodable video frame");
      break;
    }
    if (ret < 0) {
      if (cancel_) Fail(code::kAborted, "The snapshot was aborted");
      if (ret == AVERROR_EXIT) timed_out();
      if (ret == AVERROR(EAGAIN)) {  // a device in non-blocking mode
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      Fail(code::kRead, "Could not read from '" + req.input.url + "'", ret);
    }
    if (pkt->stream_index == vs) {
      arrived = av_gettime();
      dec.Decode(pkt.get(), take);
    }
    av_packet_unref(pkt.get());
    if (!have && av_gettime_relative() > deadline_us_) timed_out();
  }
  const int64_t pts = got->best_effort_timestamp != AV_NOPTS_VALUE ? got->best_effort_timestamp : got->pts;
  res.pts_us = pts == AV_NOPTS_VALUE ? 0 : av_rescale_q(pts, st->time_base, kMicros);
  res.key = got->key_frame;
  res.wall_ms = arrived / 1000;
  if (ic->pb) bytes_ += ic->pb->bytes_read;
  ic.reset();  // disconnect before the (slower) render
  res.bytes_read = bytes_.load();
  res.image = RenderImage(got.get(), req.image);
  return res;
}

namespace {

class SnapshotWorker : public PromiseWorker {
 public:
  SnapshotWorker(Napi::Env env, std::shared_ptr<SnapshotJob> job, SnapshotRequest req)
      : PromiseWorker(env, "av-rewind:snapshot", code::kDecode), job_(std::move(job)), req_(std::move(req)) {}

 private:
  void Run() override { res_ = job_->Run(req_); }
  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object r = ImageToJs(env, std::move(res_.image));
    r.Set("timeline", Seconds(env, res_.pts_us));
    r.Set("time", Napi::Number::New(env, (double)res_.wall_ms));
    r.Set("keyframe", res_.key);
    r.Set("bytesRead", Napi::Number::New(env, (double)res_.bytes_read));
    return r;
  }

  std::shared_ptr<SnapshotJob> job_;
  SnapshotRequest req_;
  SnapshotResult res_;
};

}  // namespace

Napi::Value SnapshotBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw MakeError(env, {code::kInvalidArg, "snapshot(options) expects an object"});
  Napi::Object o = info[0].As<Napi::Object>();
  SnapshotRequest req;
  req.input.url = Str(o, "url");
  req.input.format = Str(o, "inputFormat");
  req.input.options = InputOptions(o.Get("inputOptions"));
  req.image = ImageFromJs(o);
  req.timeout_us = Micros(Num(o, "timeout", 10));
  auto job = std::make_shared<SnapshotJob>();
  auto* w = new SnapshotWorker(env, job, std::move(req));
  Napi::Object r = Napi::Object::New(env);
  r.Set("promise", w->Promise());
  r.Set("cancel", Napi::Function::New(env, [job](const Napi::CallbackInfo& i) {
          job->Cancel();
          return i.Env().Undefined();
        }));
  w->Queue();
  return r;
}

}  // namespace avr
