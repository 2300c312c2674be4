#include "file_export.h"

#include <atomic>
#include <climits>
#include <memory>

#include "audio_export.h"
#include "errors.h"
#include "input.h"
#include "js_convert.h"
#include "promise_worker.h"

namespace avr {

namespace {

struct FileExportJob {
  InputRequest input;
  int stream = -1;  // -1: the best audio stream
  ExportSpec spec;
  std::atomic<bool> cancel{false};
  std::atomic<int64_t> deadline{0};
  ExportProgress progress;

  static int Interrupt(void* opaque) {
    auto* j = static_cast<FileExportJob*>(opaque);
    const int64_t d = j->deadline.load();
    return j->cancel.load() || (d && av_gettime_relative() > d) ? 1 : 0;
  }

  ExportResult Run() {
    input.interrupt = {Interrupt, this};
    input.deadline_us = &deadline;
    input.stopped = &cancel;
    InputPtr ic;
    try {
      ic = OpenInput(input);
    } catch (const Exception& e) {
      if (cancel) Fail(code::kAborted, "The export was aborted");
      throw;
    }
    int s = stream;
    if (s >= 0) {
      if (s >= (int)ic->nb_streams) Fail(code::kInvalidArg, "'" + input.url + "' has no stream " + std::to_string(s));
      if (ic->streams[s]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
        Fail(code::kNoAudio, "Stream " + std::to_string(s) + " of '" + input.url + "' is not audio");
    } else {
      s = av_find_best_stream(ic.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
      if (s < 0) Fail(code::kNoAudio, "'" + input.url + "' has no audio stream");
    }
    for (unsigned i = 0; i < ic->nb_streams; i++) ic->streams[i]->discard = (int)i == s ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    AVStream* st = ic->streams[s];
    const int64_t origin = st->start_time != AV_NOPTS_VALUE ? av_rescale_q(st->start_time, st->time_base, kMicros) : 0;
    if (ic->duration > 0) progress.total_us = ic->duration;
    AudioPull pull = [&](AudioPacketIn* in) {
      for (;;) {
        const int ret = av_read_frame(ic.get(), in->pkt);
        if (ret == AVERROR_EOF) return false;
        if (ret < 0) {
          if (cancel) Fail(code::kAborted, "The export was aborted");
          Fail(code::kRead, "Could not read from '" + input.url + "'", ret);
        }
        if (in->pkt->stream_index != s) {
          av_packet_unref(in->pkt);
          continue;
        }
        av_packet_rescale_ts(in->pkt, st->time_base, kMicros);
        if (in->pkt->pts != AV_NOPTS_VALUE) in->pkt->pts -= origin;
        if (in->pkt->dts != AV_NOPTS_VALUE) in->pkt->dts -= origin;
        if (in->pkt->pts == AV_NOPTS_VALUE) in->pkt->pts = in->pkt->dts;
        in->par = st->codecpar;
        return true;
      }
    };
    spec.mux.cancel = &cancel;
    return ExportAudio(pull, INT64_MIN / 2, INT64_MAX / 2, spec, &progress);
  }
};

class FileExportWorker : public PromiseWorker {
 public:
  FileExportWorker(Napi::Env env, std::shared_ptr<FileExportJob> job)
      : PromiseWorker(env, "av-rewind:export", code::kWrite), job_(std::move(job)) {}

 private:
  void Run() override { result_ = job_->Run(); }
  // An abort before this settles wins (as with saves): the file goes.
  void Settle(Failure* f) override {
    if (f->code.empty() && job_->cancel.load()) {
      std::remove(job_->spec.mux.path.c_str());
      *f = {code::kAborted, "The export was aborted"};
    }
  }
  Napi::Value Resolve(Napi::Env env) override { return ExportToJs(env, result_, job_->spec.mux.path, WallMap()); }

  std::shared_ptr<FileExportJob> job_;
  ExportResult result_;
};

}  // namespace

Napi::Value ExportFileBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw MakeError(env, {code::kInvalidArg, "exportFile(options) expects an object"});
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_shared<FileExportJob>();
  job->input.url = Str(o, "input");
  job->input.format = Str(o, "inputFormat");
  job->input.options = InputOptions(o.Get("inputOptions"));
  job->input.timeout_us = Micros(Num(o, "openTimeout", 15));
  job->stream = (int)Num(o, "stream", -1);
  job->spec = ExportSpecFromJs(o.Get("audio").As<Napi::Object>());
  auto* w = new FileExportWorker(env, job);
  Napi::Object r = Napi::Object::New(env);
  r.Set("promise", w->Promise());
  r.Set("cancel", Napi::Function::New(env, [job](const Napi::CallbackInfo& i) {
          job->cancel = true;
          return i.Env().Undefined();
        }));
  r.Set("progress", Napi::Function::New(env, [job](const Napi::CallbackInfo& i) -> Napi::Value {
          return ProgressToJs(i.Env(), job->progress);
        }));
  w->Queue();
  return r;
}

}  // namespace avr
