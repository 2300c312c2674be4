// The one native class JavaScript sees. lib/recorder.ts gives it its public shape.
#pragma once

#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "audio_meter.h"
#include "grab_worker.h"
#include "ingest.h"
#include "packet_ring.h"
#include "saves.h"
#include "segment_writer.h"

namespace avr {

class Recorder : public Napi::ObjectWrap<Recorder>, public IngestEvents, public SegmentEvents {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Recorder(const Napi::CallbackInfo& info);
  ~Recorder() override;
  void Finalize(Napi::Env env) override;

  // IngestEvents: ingest thread.
  void OnStarted(const SourceInfo& info) override;
  void OnReconnecting(int attempt, int64_t delay_us, const Failure& why) override;
  void OnReconnected(int attempt, const SourceInfo& info, int64_t gap_from, int64_t gap_to) override;
  void OnNewest(int64_t newest_us) override;
  void OnWarning(const std::string& code, const std::string& message) override;
  void OnEnd(const Failure& why, bool started) override;
  void OnClosed() override;
  void OnResolve() override;

  // SegmentEvents: the disk recorder's thread.
  void OnSegmentOpened(const SegmentInfo& s) override;
  void OnSegmentClosed(const SegmentInfo& s) override;
  void OnRecordError(const Failure& f) override;
  void OnRecordWarning(const std::string& code, const std::string& message) override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Progress(const Napi::CallbackInfo& info);
  Napi::Value Footage(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Meter(const Napi::CallbackInfo& info);
  Napi::Value Levels(const Napi::CallbackInfo& info);
  Napi::Value SetSource(const Napi::CallbackInfo& info);
  Napi::Value ToTimeline(const Napi::CallbackInfo& info);
  Napi::Value Grab(const Napi::CallbackInfo& info);

  using Build = std::function<void(Napi::Env, Napi::Function emit)>;
  void Post(Build build);  // runs build on the main thread
  void ReportMemory(Napi::Env env);
  void ReleaseRing(Napi::Env env);
  static void AtTeardown(void* self);
  std::shared_ptr<PacketRing> RingOrThrow(Napi::Env env);

  SourceOptions opts_;
  int64_t buffer_us_ = 0, max_bytes_ = 0;
  std::shared_ptr<PacketRing> ring_;
  std::unique_ptr<Ingest> ingest_;
  // Runs only while levels or spikes are wanted. Swapped on the main thread; the ingest thread reads it
  // (under meter_mu_) to let the meter finish before it reports the end.
  std::shared_ptr<AudioMeter> meter_;
  std::mutex meter_mu_;
  void SetMeter(std::shared_ptr<AudioMeter> m);
  std::shared_ptr<AudioMeter> CurrentMeter();
  std::shared_ptr<AudioMeter> MakeMeter(std::shared_ptr<PacketRing> ring, int track, int64_t window, bool live);
  std::atomic<int64_t> auto_meter_us_{0};  // meter window wanted from the first packet (0: none)
  Napi::ThreadSafeFunction tsfn_;
  bool running_ = false;  // thread alive (main thread's view)
  std::vector<Napi::Promise::Deferred> stop_waiters_;
  int64_t reported_bytes_ = 0;

  Saves saves_;
  // Continuous recording to disk (record option): one writer per run, a consumer of the live packets.
  bool record_ = false;
  RecordOptions record_opts_;
  std::unique_ptr<SegmentWriter> writer_;
  std::shared_ptr<FrameCache> frames_ = std::make_shared<FrameCache>();  // 'latest' grabs go on from here
  bool started_run_ = false;  // the current run buffered its first packet
  Failure end_reason_;
};

}  // namespace avr
