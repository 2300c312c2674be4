// snapshot(url): connect, read only until the first decodable video frame, render it, disconnect. For
// the bandwidth-saving case (one frame every few minutes without staying connected); no ring, no thread
// of its own: the whole job runs on one libuv worker, bounded by a deadline and cancellable.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>

#include "image.h"
#include "input.h"

namespace avr {

struct SnapshotRequest {
  InputRequest input;  // url, format, options (interrupt and deadline are the job's own)
  ImageOptions image;
  int64_t timeout_us = 10'000'000;  // the whole job: open, read, decode, render
};

struct SnapshotResult {
  Image image;
  int64_t pts_us = 0;      // the frame's own presentation time in the source (µs)
  bool key = false;
  int64_t wall_ms = 0;     // when its packet arrived
  int64_t bytes_read = 0;  // everything read from the source (all AVIOContexts: playlists, segments…)
};

class SnapshotJob {
 public:
  // Throws avr::Exception: ERR_OPEN_INPUT, ERR_TIMEOUT, ERR_NO_VIDEO, ERR_DECODE, ERR_ABORTED, ERR_INVALID_ARG.
  SnapshotResult Run(const SnapshotRequest& r);
  void Cancel() { cancel_ = true; }

 private:
  static int InterruptCb(void* opaque);
  static void Prepare(AVFormatContext* ic, void* opaque);
  static int IoOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary** opts);
  static int IoClose(AVFormatContext* s, AVIOContext* pb);

  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> deadline_us_{0};
  std::atomic<int64_t> bytes_{0};
  int (*default_open_)(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) = nullptr;
  int (*default_close_)(AVFormatContext*, AVIOContext*) = nullptr;
};

// The binding: snapshot({ url, format, inputOptions, timeout, image… }) → { promise, cancel() }.
Napi::Value SnapshotBinding(const Napi::CallbackInfo& info);

}  // namespace avr
