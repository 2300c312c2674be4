// The disk recorder: a consumer of the live packet stream (Subscription) on a thread of its own, writing
// crash-safe segments without re-encoding. Fragmented MP4 (a fragment at least every second, flushed) or
// MPEG-TS, each segment starting at the first keyframe at or after a wall-clock boundary, named by its
// start. It never stalls ingest: if the disk falls behind, the subscription drops packets and the writer
// skips to the next keyframe (whole GOPs), so no file is ever corrupt. A write that fails (disk full, a
// folder gone) ends the segment; the writer retries and starts a new one at a keyframe. Bookkeeping (the
// index, retention) is JavaScript's: each segment's opening and closing is reported through events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bsf.h"
#include "errors.h"
#include "muxer.h"
#include "packet_ring.h"
#include "subscription.h"

namespace avr {

struct RecordOptions {
  std::string dir;
  int64_t segment_us = 600'000'000;
  std::string format = "mp4";  // mp4 (fragmented) | ts
  int64_t retry_us = 5'000'000;  // after a failed write, the next attempt
};

struct SegmentInfo {
  std::string file;              // the file name within dir
  int64_t start_wall = 0;        // µs since the epoch of its first packet (0: no wall clock)
  int64_t end_wall = 0;          // just past its last packet
  int64_t timeline_start = 0;    // the recorder timeline's µs of its first packet (the file's 0)
  int64_t timeline_end = 0;
  int64_t bytes = 0, packets = 0;
  bool complete = false;         // closed properly (false while open)
};

class SegmentEvents {
 public:
  virtual ~SegmentEvents() = default;
  virtual void OnSegmentOpened(const SegmentInfo& s) = 0;
  virtual void OnSegmentClosed(const SegmentInfo& s) = 0;
  virtual void OnRecordError(const Failure& f) = 0;
  virtual void OnRecordWarning(const std::string& code, const std::string& message) = 0;
};

class SegmentWriter {
 public:
  // Subscribes at once: no packet buffered after construction is missed.
  SegmentWriter(RecordOptions o, std::shared_ptr<PacketRing> ring, SegmentEvents* events);
  ~SegmentWriter();
  void Start();
  // Returns when the last packet has been written and the segment closed (the ingest thread ended, so
  // the subscription has ended) or at once after Abort().
  void Join();
  void Abort();  // stop without draining (teardown)

 private:
  void Run();
  void Write(const LivePacket& lp);
  void WritePacket(const RingEntry& e);  // into the open segment
  void EndCut();  // the old segment closes, the held packets start the next
  void EndPrime();  // the audio's configuration came (or did not in time): the held packets open a segment
  void Hold(const LivePacket& lp);
  void Replay();    // the held packets, through Write() again
  bool NewestAudio(const RingEntry& e, int track, AVPacket* out) const;
  bool AwaitsAudioConfig(const RingEntry& e) const;
  void Open(const RingEntry& e, int64_t wall);
  void Close();
  std::string NameFor(int64_t wall_us);

  const RecordOptions o_;
  std::shared_ptr<PacketRing> ring_;
  std::shared_ptr<Subscription> sub_;
  SegmentEvents* events_;
  std::thread thread_;
  std::atomic<bool> abort_{false};
  int64_t delay_us_ = 0;  // fault injection (tests): a slow disk

  // Writer-thread state.
  std::unique_ptr<Muxer> mux_;
  SegmentInfo cur_;
  int64_t base_ts_ = 0;         // the timeline µs that is the segment file's 0
  int audio_track_ = -1;
  std::unique_ptr<Bsf> adts_;   // ADTS AAC (MPEG-TS sources) → raw: fragmented mp4 needs the config up front
  bool seg_audio_ = false;      // the open segment has an audio track
  bool cutting_ = false;        // a boundary keyframe came; waiting for the audio before it
  int64_t cut_pts_ = 0;
  bool priming_ = false;        // a segment's first packets wait for the audio's configuration
  bool primed_ = false;         // that wait is over: open with what there is
  bool draining_ = false;       // the stream ended: no new hold
  std::vector<LivePacket> held_;  // the next segment's packets meanwhile
  SessionParams session_;       // the parameters the open segment was written with
  int video_track_ = -1;        // the track whose keyframes start segments (-1: audio only)
  int64_t boundary_ = 0;        // wall (or timeline) µs from which the next keyframe starts a segment
  bool need_key_ = true;        // skip to the next keyframe (start, after a drop or a failure)
  int64_t retry_at_ = 0;        // av_gettime_relative() before which no segment is opened after a failure
  bool behind_told_ = false;
  std::string last_name_;
  int name_seq_ = 0;
};

}  // namespace avr
