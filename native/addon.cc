// Module entry: one class (NativeRecorder), the error class hand-over, and the libav versions.
#include <napi.h>

#include <cstdlib>

#include "devices.h"
#include "file_export.h"
#include "footage.h"
#include "js_convert.h"
#include "media_probe.h"
#include "recorder.h"
#include "snapshot.h"
#include "wall_clock.h"

namespace {

std::string Version(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." +
         std::to_string(AV_VERSION_MICRO(v));
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<avr::AddonData>();
  data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("libavformat", Version(avformat_version()));
  o.Set("libavcodec", Version(avcodec_version()));
  o.Set("libavutil", Version(avutil_version()));
  o.Set("ffmpeg", av_version_info());
  o.Set("libx264", avcodec_find_encoder_by_name("libx264") != nullptr);
  return o;
}

// For tests only: runs the wall-clock estimator over (timeline µs, arrival µs) samples, as the ingest
// thread would, and returns the wall time each sample's instant was given. An hour of a drifting source
// is checked in milliseconds instead of an hour.
Napi::Value SimulateWallClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray())
    throw Napi::TypeError::New(env, "simulateWallClock(Float64Array t, Float64Array arrival)");
  auto t = info[0].As<Napi::Float64Array>();
  auto a = info[1].As<Napi::Float64Array>();
  if (t.ElementLength() != a.ElementLength()) throw Napi::TypeError::New(env, "arrays differ in length");
  avr::WallMap map;
  avr::ClockEstimator clock;
  const size_t n = t.ElementLength();
  for (size_t i = 0; i < n; i++) clock.Observe((int64_t)t[i], (int64_t)a[i], &map);
  auto out = Napi::Float64Array::New(env, n);
  for (size_t i = 0; i < n; i++) out[i] = (double)map.Wall((int64_t)t[i]);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libav's own log is quiet: failures reach JavaScript as RecorderErrors. AV_REWIND_LOG=32 shows it.
  const char* level = getenv("AV_REWIND_LOG");
  av_log_set_level(level ? atoi(level) : AV_LOG_QUIET);
  avdevice_register_all();
  avformat_network_init();
  auto* data = new avr::AddonData();
  env.SetInstanceData(data);
  exports.Set("NativeRecorder", avr::Recorder::Define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("exportFile", Napi::Function::New(env, avr::ExportFileBinding));
  exports.Set("listDevices", Napi::Function::New(env, avr::ListDevicesBinding));
  exports.Set("footage", Napi::Function::New(env, avr::FootageBinding));
  exports.Set("probeMedia", Napi::Function::New(env, avr::ProbeMediaBinding));
  exports.Set("snapshot", Napi::Function::New(env, avr::SnapshotBinding));
  exports.Set("versions", Napi::Function::New(env, Versions));
  exports.Set("simulateWallClock", Napi::Function::New(env, SimulateWallClock));
  return exports;
}

}  // namespace

NODE_API_MODULE(av_rewind, Init)
