// Writes a snapshot of the ring to a file without re-encoding (the sequence of doc/examples/remux.c).
#pragma once

#include <atomic>
#include <string>

#include "packet_ring.h"

namespace avr {

struct RemuxOptions {
  std::string path;    // final path; the file appears there only when complete
  std::string format;  // muxer name, "" = by extension
  bool faststart = false;
  const std::atomic<bool>* cancel = nullptr;
};

struct RemuxResult {
  int64_t bytes = 0;
  int64_t packets = 0;
  int64_t duration = 0;  // µs
  std::string format;
};

// Throws avr::Exception; on any failure the partial file is removed.
RemuxResult Remux(const Snapshot& snap, const RemuxOptions& opts);

// Muxer name for a path/format pair, or "" when libavformat knows none.
std::string GuessMuxer(const std::string& path, const std::string& format);

}  // namespace avr
