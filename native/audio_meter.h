// The audio meter: a native thread of its own that reads the audio track from the ring's live
// subscription (after the buffered audio, so levels exist for everything still buffered), decodes it
// (audio_decoder.h) and keeps peak and RMS per window on the recorder timeline, beside the ring and
// evicted with it. It runs only while someone listens; ingest never waits for it (a meter that falls
// behind loses its own packets, and says so).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "packet_ring.h"

namespace avr {

struct Level {
  int64_t start;  // timeline µs: the window covers [start, start + window)
  float peak_db;  // max |sample| over the window and the channels, dBFS
  float rms_db;   // RMS of the loudest channel over the window, dBFS
};

constexpr float kSilenceDb = -120.0f;  // the floor reported for digital silence

class AudioMeter {
 public:
  // Called on the meter's thread with the windows completed by one packet (never empty); backfill: read
  // from what was buffered before the meter started.
  using OnLevels = std::function<void(std::vector<Level>&&, bool backfill)>;
  using OnError = std::function<void(const std::string& message)>;

  AudioMeter(std::shared_ptr<PacketRing> ring, int track, int64_t window_us, OnLevels on_levels, OnError on_error);
  ~AudioMeter();  // stops and joins (promptly: the thread waits on its queue in short steps)
  AudioMeter(const AudioMeter&) = delete;
  AudioMeter& operator=(const AudioMeter&) = delete;

  int64_t window() const { return window_us_; }
  // Waits until the meter has read everything (the ring's live feed must have ended): its last levels
  // are posted and its envelope stays queryable.
  void Finish();
  // The same from any thread but the main one's Finish(): returns once the meter has read everything.
  void WaitDone();
  // Windows that start in [from, to), oldest first.
  std::vector<Level> Range(int64_t from, int64_t to) const;

 private:
  void Run();
  void Feed(const RingEntry& e);
  void ReadFromRing(int64_t before, bool backfill);  // buffered packets after the last one fed
  void Publish(bool backfill);  // the completed windows: into the envelope, and to JavaScript
  void Samples(const float* const* planes, int channels, int samples, int64_t first_us, int sample_rate);
  void Flush();  // emits the window being filled (a hole or the end follows)

  std::shared_ptr<PacketRing> ring_;
  const int track_;
  const int64_t window_us_;
  OnLevels on_levels_;
  OnError on_error_;
  std::shared_ptr<class Subscription> sub_;
  std::atomic<bool> stop_{false};

  // The meter thread's state.
  std::unique_ptr<class AudioDecoder> decoder_;
  const void* decoder_par_ = nullptr;  // codec parameters the decoder was opened for
  int64_t last_dts_ = INT64_MIN;       // newest packet fed (the backfill and the live queue overlap)
  int64_t cur_start_ = INT64_MIN;      // window being filled
  int64_t last_emitted_ = INT64_MIN;   // start of the newest window emitted
  int64_t base_us_ = INT64_MIN;        // time of the sample where counting restarted (INT64_MIN: none)
  int64_t base_n_ = 0;                 // samples since then
  int base_rate_ = 0;
  std::vector<float> peak_;
  std::vector<double> sumsq_;
  int64_t count_ = 0;
  std::vector<Level> batch_;

  mutable std::mutex mu_;
  std::deque<Level> levels_;  // the envelope

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;

  std::thread thread_;
};

}  // namespace avr
