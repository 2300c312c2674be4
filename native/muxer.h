// Writes packets to a file without re-encoding (the sequence of doc/examples/remux.c), as open / write /
// close so that one-shot saves and long-running writers share it. The file is written under a hidden
// temporary name beside the target and renamed when complete: a failed or aborted write leaves nothing.
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "packet_ring.h"

namespace avr {

struct MuxOptions {
  std::string path;    // a file path, never a URL (':' in a name is just a character)
  std::string format;  // muxer name, "" = by extension
  bool faststart = false;
  const std::atomic<bool>* cancel = nullptr;
  std::vector<std::pair<std::string, std::string>> metadata;  // tags (title, artist…): ID3v2 in MP3
  std::vector<std::pair<std::string, std::string>> muxer_options;  // e.g. movflags for fragmented MP4
  // Write at `path` itself, flushing every packet, and keep what was written if anything fails (the disk
  // recorder's segments: a crash must leave them playable). Default: a temporary file renamed at Close.
  bool in_place = false;
};

struct MuxResult {
  int64_t bytes = 0;
  int64_t packets = 0;
  int64_t dropped = 0;  // packets the container's conversion rejected as corrupt, left out
  std::string format;
};

class Muxer {
 public:
  // tracks[i].par null: track i gets no stream in the file (its packets are skipped).
  Muxer(const MuxOptions& opts, const std::vector<TrackParams>& tracks);
  ~Muxer();
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;

  // Timestamps in µs from the start of the file; the packet's data is referenced, not copied.
  void Write(int track, const PacketData& data, int64_t pts, int64_t dts, int64_t duration);
  // Trailer, close, rename into place. Throws avr::Exception (the temporary file is then removed).
  MuxResult Close();
  const std::string& format() const { return format_; }
  int64_t bytes() const;  // written so far

 private:
  int Check(int ret, const std::string& what) const;

  // Removes the temporary file unless it was renamed into place; a member (declared before out_, so
  // destroyed after it) so that a constructor that throws cleans up too.
  struct TempFile {
    std::string path;
    bool keep = false;
    ~TempFile();
  };

  MuxOptions opts_;
  TempFile tmp_;
  OutputPtr out_;
  std::vector<int> stream_of_;
  PacketPtr pkt_;
  std::string format_;
  int64_t packets_ = 0;
  int64_t dropped_ = 0;
  Failure first_drop_;  // names the stream and time of the first packet left out
};

// Muxer name for a path/format pair, or "" when libavformat knows none.
std::string GuessMuxer(const std::string& path, const std::string& format);

}  // namespace avr
