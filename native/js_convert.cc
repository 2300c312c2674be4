#include "js_convert.h"

#include <cmath>

namespace avr {

std::string Str(const Napi::Object& o, const char* k, const std::string& def) {
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

std::vector<std::pair<std::string, std::string>> InputOptions(Napi::Value v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!v.IsObject()) return out;
  Napi::Object m = v.As<Napi::Object>();
  Napi::Array keys = m.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    out.emplace_back(k, m.Get(k).ToString().Utf8Value());
  }
  return out;
}

ImageOptions ImageFromJs(const Napi::Object& o) {
  ImageOptions i;
  i.format = Str(o, "format", "jpeg");
  i.quality = (int)Num(o, "quality", 90);
  i.width = (int)Num(o, "width", 0);
  i.height = (int)Num(o, "height", 0);
  return i;
}

Napi::Object ExportToJs(Napi::Env env, const ExportResult& r, const std::string& path, const WallMap& wall) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path);
  o.Set("format", r.mux.format);
  o.Set("codec", r.codec);
  o.Set("start", Seconds(env, r.start));
  o.Set("end", Seconds(env, r.end));
  const int64_t ws = wall.empty() ? 0 : wall.Wall(r.start), we = wall.empty() ? 0 : wall.Wall(r.end);
  o.Set("startTime", ws ? Napi::Number::New(env, ws / 1e3) : env.Null());
  o.Set("endTime", we ? Napi::Number::New(env, we / 1e3) : env.Null());
  o.Set("duration", Seconds(env, r.end - r.start));
  o.Set("bytes", Napi::Number::New(env, (double)r.mux.bytes));
  o.Set("bitrate", Napi::Number::New(env, (double)r.bitrate));
  o.Set("sampleRate", r.sample_rate);
  o.Set("channels", r.channels);
  return o;
}

Napi::Object ProgressToJs(Napi::Env env, const ExportProgress& p) {
  Napi::Object o = Napi::Object::New(env);
  const int64_t total = p.total_us.load(), done = p.done_us.load();
  o.Set("ratio", total > 0 ? Napi::Number::New(env, std::min(1.0, (double)done / total)) : env.Null());
  o.Set("time", Seconds(env, done));
  o.Set("bytes", Napi::Number::New(env, (double)p.bytes.load()));
  return o;
}

ExportSpec ExportSpecFromJs(const Napi::Object& o) {
  ExportSpec s;
  s.mp3 = Bool(o, "mp3", true);
  s.mux.path = Str(o, "path");
  s.mux.format = Str(o, "format");
  s.bitrate = (int)Num(o, "bitrate", 0);
  s.quality = (int)Num(o, "quality", 2);
  s.sample_rate = (int)Num(o, "sampleRate", 0);
  s.channels = (int)Num(o, "channels", 0);
  s.fill_gaps = Str(o, "gaps", "silence") != "skip";
  Napi::Value tags = o.Get("tags");
  if (tags.IsObject()) s.mux.metadata = InputOptions(tags);
  return s;
}

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

Napi::Object ImageToJs(Napi::Env env, Image&& img) {
  Napi::Object r = Napi::Object::New(env);
  auto* bytes = new std::vector<uint8_t>(std::move(img.data));
  const int64_t size = (int64_t)bytes->size();
  Napi::MemoryManagement::AdjustExternalMemory(env, size);
  r.Set("data", Napi::Buffer<uint8_t>::New(env, bytes->data(), bytes->size(), [size](Napi::Env e, uint8_t*, std::vector<uint8_t>* b) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -size);
    delete b;
  }, bytes));
  r.Set("width", img.width);
  r.Set("height", img.height);
  if (img.stride) r.Set("stride", img.stride);
  return r;
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

Napi::Array StreamsToJs(Napi::Env env, const std::vector<TrackParams>& tracks) {
  Napi::Array streams = Napi::Array::New(env);
  uint32_t n = 0;
  for (const TrackParams& t : tracks) {
    if (!t.par) continue;
    Napi::Object s = Napi::Object::New(env);
    s.Set("type", t.type == AVMEDIA_TYPE_VIDEO ? "video" : "audio");
    s.Set("codec", avcodec_get_name(t.par->codec_id));
    streams.Set(n++, s);
  }
  return streams;
}

}  // namespace avr
