// Native → JavaScript values. Main thread only.
#pragma once

#include <napi.h>

#include <vector>

#include "audio_meter.h"
#include "errors.h"
#include "ingest.h"

namespace avr {

struct AddonData {
  Napi::FunctionReference error_class;  // RecorderError, handed over by lib/native.ts
  Napi::FunctionReference recorder_ctor;
};

// A RecorderError with code, message and, where libav was involved, avCode/avMessage.
Napi::Error MakeError(Napi::Env env, const Failure& f);
Napi::Object SourceInfoToJs(Napi::Env env, const SourceInfo& info);
// Level windows as { starts (timeline s), times (epoch ms, NaN without a wall clock), peakDb, rmsDb }:
// typed arrays, one element per window.
Napi::Object LevelsToJs(Napi::Env env, const std::vector<Level>& levels, const std::vector<int64_t>& walls);
inline Napi::Value Seconds(Napi::Env env, int64_t us) { return Napi::Number::New(env, us / 1e6); }

}  // namespace avr
