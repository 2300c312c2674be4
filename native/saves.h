// Saves of one recorder: a save whose end is still to come waits here (post-roll) until the buffer holds
// every packet the clip will have, then writes on a libuv worker. Released only when the clip is final,
// so a save made during post-roll and the same range saved later write identical packets.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "audio_export.h"
#include "muxer.h"
#include "packet_ring.h"

namespace avr {

struct SaveRequest {
  uint32_t id = 0;
  bool last = false;         // saveLast: from = newest - seconds
  bool wall = false;         // from/to are µs since the epoch
  double from = 0, to = 0;   // µs (last: the length)
  bool partial = false;      // a stop or end before `to` saves what there is (truncated) instead of failing
  bool truncated = false;    // set when that happened
  MuxOptions mux;
  // exportMp3 / exportAudio: the range's audio alone, exactly [from, to) (no keyframe snap), to `audio`.
  bool audio_only = false;
  ExportSpec audio;
  // saveLast/saveRange with { mp3 }: the clip's audio as MP3 too, from the same packets.
  bool with_mp3 = false;
  ExportSpec mp3;
  // footage(): no file, the promise settles once the range is final here (or the source ended).
  bool wait_only = false;
  std::shared_ptr<ExportProgress> progress = std::make_shared<ExportProgress>();
};

class Saves {
 public:
  // Main thread. `running`: the ingest thread may still bring the range's end.
  Napi::Promise Submit(Napi::Object recorder, std::shared_ptr<PacketRing> ring, SaveRequest req, bool running);
  void Cancel(Napi::Env env, uint32_t id);
  // Main thread: { ratio, time (s done), bytes } of a running export, or null.
  Napi::Value Progress(Napi::Env env, uint32_t id);
  // The ingest thread has finished: waiting saves run with what there is, or fail when their end never came.
  void Closed(Napi::Env env, bool stopped, const std::string& reason);
  // Starts the saves that ReadyIds() found (main thread).
  void Launch(Napi::Env env, const std::vector<uint32_t>& ids);

  // Ingest thread, after each buffered packet: ids of waiting saves whose clip is now final.
  std::vector<uint32_t> ReadyIds(int64_t newest);

 private:
  struct Waiting {
    std::shared_ptr<PacketRing> ring;
    SaveRequest req;
    int64_t from = 0;        // timeline µs
    int64_t to_hint = 0;     // timeline µs of `to` when it was parked (a wall `to` is mapped again later)
    std::shared_ptr<std::atomic<bool>> cancel;
    std::shared_ptr<Napi::Promise::Deferred> deferred;       // main thread only
    std::shared_ptr<Napi::ObjectReference> recorder;         // main thread only
  };
  static int64_t ResolveTo(const PacketRing& ring, const SaveRequest& req);
  static bool Final(const PacketRing& ring, int64_t from, int64_t to);
  void Run(Napi::Env env, Waiting w);

  std::mutex mu_;
  std::map<uint32_t, Waiting> waiting_;
  std::atomic<int64_t> earliest_{INT64_MAX};
  std::map<uint32_t, std::shared_ptr<std::atomic<bool>>> running_;  // main thread
  std::map<uint32_t, std::shared_ptr<ExportProgress>> progress_;     // main thread
};

}  // namespace avr
