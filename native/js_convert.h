// Values between JavaScript and native: readers of what lib/ validated, and native results as JS values.
// Main thread only.
#pragma once

#include <napi.h>

#include <algorithm>

#include <string>
#include <utility>
#include <vector>

#include "audio_export.h"
#include "audio_meter.h"
#include "errors.h"
#include "image.h"
#include "ingest.h"

namespace avr {

struct AddonData {
  Napi::FunctionReference error_class;  // RecorderError, handed over by lib/native.ts
  Napi::FunctionReference recorder_ctor;
};

// lib/options.ts validates everything; these only read what it passes.
std::string Str(const Napi::Object& o, const char* k, const std::string& def = "");
double Num(const Napi::Object& o, const char* k, double def);
bool Bool(const Napi::Object& o, const char* k, bool def);
// Times arrive from JavaScript as doubles; clamp so the conversion to int64 is always defined.
inline int64_t ClampUs(double us) { return us != us ? 0 : (int64_t)std::max(-4.0e18, std::min(4.0e18, us)); }
inline int64_t Micros(double seconds) { return ClampUs(seconds * 1e6); }
std::vector<std::pair<std::string, std::string>> InputOptions(Napi::Value v);
// { format, quality, width, height }
ImageOptions ImageFromJs(const Napi::Object& o);

// A RecorderError with code, message and, where libav was involved, avCode/avMessage.
Napi::Error MakeError(Napi::Env env, const Failure& f);
Napi::Object SourceInfoToJs(Napi::Env env, const SourceInfo& info);
// A written file's tracks as [{ type: 'video' | 'audio', codec }] (tracks without parameters left out).
Napi::Array StreamsToJs(Napi::Env env, const std::vector<TrackParams>& tracks);
// Level windows as { starts (timeline s), times (epoch ms, NaN without a wall clock), peakDb, rmsDb }:
// typed arrays, one element per window.
Napi::Object LevelsToJs(Napi::Env env, const std::vector<Level>& levels, const std::vector<int64_t>& walls);
// { data, width, height, stride? }: the image's bytes handed to a Buffer without a copy (V8 is told
// of the memory for as long as the Buffer lives).
Napi::Object ImageToJs(Napi::Env env, Image&& img);
// An export's result: { path, format, codec, start, end (timeline s), startTime, endTime (epoch ms or
// null), duration, bytes, bitrate, sampleRate, channels }.
Napi::Object ExportToJs(Napi::Env env, const ExportResult& r, const std::string& path, const WallMap& wall);
// { ratio (null: unknown total), time (s done), bytes }
Napi::Object ProgressToJs(Napi::Env env, const ExportProgress& p);
// ExportSpec from { mp3, path, format, bitrate, quality, sampleRate, channels, gaps, tags }.
ExportSpec ExportSpecFromJs(const Napi::Object& o);
inline Napi::Value Seconds(Napi::Env env, int64_t us) { return Napi::Number::New(env, us / 1e6); }

}  // namespace avr
