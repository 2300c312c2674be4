#include <cmath>
#include "js_convert.h"

namespace avr {

Napi::Error MakeError(Napi::Env env, const Failure& f) {
  auto* data = env.GetInstanceData<AddonData>();
  if (!data || data->error_class.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, f.message);
    e.Set("code", f.code);
    return e;
  }
  std::vector<napi_value> args = {Napi::String::New(env, f.code), Napi::String::New(env, f.message)};
  if (f.av_code < 0) {
    args.push_back(Napi::Number::New(env, f.av_code));
    args.push_back(Napi::String::New(env, AvErrorString(f.av_code)));
  }
  return Napi::Error(env, data->error_class.New(args));
}

Napi::Object SourceInfoToJs(Napi::Env env, const SourceInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("format", info.format);
  Napi::Array streams = Napi::Array::New(env, info.streams.size());
  for (size_t i = 0; i < info.streams.size(); i++) {
    const StreamInfo& s = info.streams[i];
    Napi::Object so = Napi::Object::New(env);
    so.Set("index", s.track);
    so.Set("type", s.type == AVMEDIA_TYPE_VIDEO ? "video" : "audio");
    so.Set("codec", s.codec);
    if (!s.profile.empty()) so.Set("profile", s.profile);
    if (s.type == AVMEDIA_TYPE_VIDEO) {
      so.Set("width", s.width);
      so.Set("height", s.height);
      so.Set("fps", s.fps.num && s.fps.den ? av_q2d(s.fps) : 0.0);
      if (!s.pixel_format.empty()) so.Set("pixelFormat", s.pixel_format);
    } else {
      so.Set("sampleRate", s.sample_rate);
      so.Set("channels", s.channels);
      so.Set("channelLayout", s.channel_layout);
    }
    Napi::Array tb = Napi::Array::New(env, 2);
    tb.Set(0u, s.time_base.num);
    tb.Set(1u, s.time_base.den);
    so.Set("timeBase", tb);
    if (s.bit_rate > 0) so.Set("bitRate", (double)s.bit_rate);
    so.Set("encodedFrom", s.encoded_from.empty() ? env.Null() : Napi::String::New(env, s.encoded_from));
    streams.Set(i, so);
  }
  o.Set("streams", streams);
  return o;
}

Napi::Object LevelsToJs(Napi::Env env, const std::vector<Level>& levels, const std::vector<int64_t>& walls) {
  const size_t n = levels.size();
  Napi::Float64Array starts = Napi::Float64Array::New(env, n);
  Napi::Float64Array times = Napi::Float64Array::New(env, n);
  Napi::Float32Array peak = Napi::Float32Array::New(env, n);
  Napi::Float32Array rms = Napi::Float32Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    starts[i] = levels[i].start / 1e6;
    times[i] = i < walls.size() && walls[i] ? walls[i] / 1e3 : NAN;
    peak[i] = levels[i].peak_db;
    rms[i] = levels[i].rms_db;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("starts", starts);
  o.Set("times", times);
  o.Set("peakDb", peak);
  o.Set("rmsDb", rms);
  return o;
}

}  // namespace avr
