// The ingest thread: source → (encode once if raw) → timeline → ring. One native thread per recorder,
// never a libuv pool thread, so a stalled camera cannot starve fs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "encoder.h"
#include "input.h"
#include "errors.h"
#include "packet_ring.h"
#include "timeline.h"

namespace avr {

struct SourceOptions {
  std::string url;
  std::string format;  // input format / device (lavfi, v4l2, mpegts…), "" = probe
  std::vector<std::pair<std::string, std::string>> input_options;
  double read_rate = 0;  // 0 = as fast as the source delivers, 1 = real time (ffmpeg -re)
  int64_t open_timeout_us = 15'000'000;
  int64_t stall_timeout_us = 10'000'000;
  bool reconnect = true;
  int64_t reconnect_delay_us = 1'000'000;
  int64_t reconnect_max_delay_us = 30'000'000;
  int max_attempts = -1;  // -1: forever
  bool wall_clock = true;  // false: a file read at full speed, whose instants have no wall-clock time
  // Before each reconnect, ask JavaScript for the source anew (IngestEvents::OnResolve → SetSource):
  // a page resolved by yt-dlp gives media URLs that expire.
  bool resolve_on_reconnect = false;
  EncoderOptions encoder;
};

struct StreamInfo {
  int track = 0;
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
  std::string codec, profile, pixel_format, channel_layout, encoded_from;
  int width = 0, height = 0, sample_rate = 0, channels = 0;
  AVRational fps{0, 1}, time_base{0, 1};
  int64_t bit_rate = 0;
};

struct SourceInfo {
  std::string format;
  std::vector<StreamInfo> streams;
};

// Called on the ingest thread; implementations hand the news to JavaScript.
class IngestEvents {
 public:
  virtual ~IngestEvents() = default;
  virtual void OnStarted(const SourceInfo& info) = 0;
  virtual void OnReconnecting(int attempt, int64_t delay_us, const Failure& why) = 0;
  virtual void OnReconnected(int attempt, const SourceInfo& info, int64_t gap_from, int64_t gap_to) = 0;
  virtual void OnNewest(int64_t newest_us) = 0;
  virtual void OnWarning(const std::string& code, const std::string& message) = 0;
  // why.code empty: the source ended cleanly. started: false when the first connection never produced data.
  virtual void OnEnd(const Failure& why, bool started) = 0;
  virtual void OnClosed() = 0;  // last call from the thread
  // Only with resolve_on_reconnect: the thread waits until SetSource() answers (or stop, or openTimeout).
  virtual void OnResolve() {}
};

class Ingest {
 public:
  Ingest(SourceOptions opts, std::shared_ptr<PacketRing> ring, IngestEvents* events);
  ~Ingest();
  void Start();
  void RequestStop();
  void Join();
  // Main thread: the answer to OnResolve(), a new URL and input options, or why there is none.
  void SetSource(std::string url, std::vector<std::pair<std::string, std::string>> input_options, Failure failure);
  int reconnects() const { return reconnects_.load(); }
  int64_t bytes_read() const { return bytes_read_.load(); }

 private:
  struct Track {
    int input = -1;  // stream index in the current connection, -1 when absent
    std::unique_ptr<StreamEncoder> encoder;
  };
  static int InterruptCb(void* opaque);
  void Run();
  // One connection: open, read until the end or an error. Returns true if it buffered anything.
  bool Session(Failure* why);
  InputPtr Open();
  void Resolve();  // throws avr::Exception when no source came
  SourceInfo SetupTracks(AVFormatContext* ic, std::vector<Track>& tracks);
  void Pace(int64_t timeline_us);
  void Place(int track, AVPacket* pkt, AVRational tb, int wrap_bits);
  bool SleepFor(int64_t us);  // false when stopped meanwhile

  const SourceOptions opts_;
  std::shared_ptr<PacketRing> ring_;
  IngestEvents* events_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> deadline_us_{0};  // av_gettime_relative() limit for the blocking call under way
  std::mutex mu_;
  std::condition_variable cv_;

  // The source, replaced by SetSource() (guarded by mu_).
  std::string url_;
  std::vector<std::pair<std::string, std::string>> input_options_;
  bool resolved_ = false;
  Failure resolve_failure_;

  // Ingest-thread state.
  std::vector<AVMediaType> track_types_;  // fixed by the first connection
  int key_track_ = -1;
  std::unique_ptr<Timeline> timeline_;
  bool started_ = false;
  bool session_has_key_ = false;
  bool session_buffered_ = false;
  int attempt_ = 0;
  int64_t gap_from_ = INT64_MIN, gap_to_ = INT64_MIN;
  int64_t pace_base_raw_ = AV_NOPTS_VALUE, pace_base_wall_ = 0;
  int64_t sender_epoch_ = AV_NOPTS_VALUE;  // wall µs of the connection's pts 0, when the sender says (RTCP)
  SourceInfo info_;
  SessionParams current_params_;
  std::atomic<int> reconnects_{0};
  std::atomic<int64_t> bytes_read_{0};
};

}  // namespace avr
