// Errors cross threads as plain data; only the main thread turns them into RecorderError objects.
#pragma once

#include <exception>
#include <string>

#include "av.h"

namespace avr {

// Stable codes, mirrored by lib/errors.ts.
namespace code {
constexpr const char* kInvalidArg = "ERR_INVALID_ARG";
constexpr const char* kOpenInput = "ERR_OPEN_INPUT";
constexpr const char* kNoStreams = "ERR_NO_STREAMS";
constexpr const char* kRead = "ERR_READ";
constexpr const char* kEncode = "ERR_ENCODE";
constexpr const char* kDecode = "ERR_DECODE";
constexpr const char* kNoAudio = "ERR_NO_AUDIO";
constexpr const char* kNoVideo = "ERR_NO_VIDEO";
constexpr const char* kNotStarted = "ERR_NOT_STARTED";
constexpr const char* kAlreadyStarted = "ERR_ALREADY_STARTED";
constexpr const char* kRangeNotBuffered = "ERR_RANGE_NOT_BUFFERED";
constexpr const char* kWrite = "ERR_WRITE";
constexpr const char* kAborted = "ERR_ABORTED";
constexpr const char* kStopped = "ERR_STOPPED";
constexpr const char* kSourceEnded = "ERR_SOURCE_ENDED";
constexpr const char* kTimeout = "ERR_TIMEOUT";
constexpr const char* kEncoderMissing = "ERR_ENCODER_MISSING";
}  // namespace code

struct Failure {
  std::string code;
  std::string message;
  int av_code = 0;  // negative AVERROR, 0 when libav was not involved
};

class Exception : public std::exception {
 public:
  explicit Exception(Failure f) : f_(std::move(f)) {}
  const char* what() const noexcept override { return f_.message.c_str(); }
  const Failure& failure() const { return f_; }

 private:
  Failure f_;
};

[[noreturn]] inline void Fail(const char* c, std::string message, int av_code = 0) {
  if (av_code < 0) message += ": " + AvErrorString(av_code);
  throw Exception(Failure{c, std::move(message), av_code});
}

// Throws on a negative libav return value, passes anything else through.
inline int Check(int ret, const char* c, const std::string& what) {
  if (ret < 0) Fail(c, what, ret);
  return ret;
}

}  // namespace avr
