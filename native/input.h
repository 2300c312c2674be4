// Opening a source (avformat_open_input + probing), written once for the ingest thread and snapshot():
// input options checked and named, device reads made non-blocking, every blocking call bounded by a
// deadline the caller's interrupt callback watches.
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "av.h"

namespace avr {

struct InputRequest {
  std::string url;
  std::string format;  // "" = probe
  std::vector<std::pair<std::string, std::string>> options;
  int64_t timeout_us = 15'000'000;
  AVIOInterruptCB interrupt{nullptr, nullptr};
  std::atomic<int64_t>* deadline_us = nullptr;  // set for each blocking call; the callback compares it
  const std::atomic<bool>* stopped = nullptr;   // a stop reads as ERR_STOPPED, not as a timeout
  // Called with the context before it opens (e.g. to count the bytes every AVIOContext reads).
  void (*prepare)(AVFormatContext*, void*) = nullptr;
  void* prepare_opaque = nullptr;
};

// Throws avr::Exception: ERR_INVALID_ARG (unknown format, refused option), ERR_OPEN_INPUT, ERR_TIMEOUT,
// ERR_STOPPED.
InputPtr OpenInput(const InputRequest& r);

// avformat_find_stream_info single-threaded (see input.cc); returns libav's result.
int ProbeStreams(AVFormatContext* ic);

}  // namespace avr
