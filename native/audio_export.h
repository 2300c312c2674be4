// A range's audio as its own file: MP3 through libmp3lame (decode → resample → encode: the audio
// decoder and AudioEncoder chains), or the packets copied into a container that holds their codec. The
// packets come from a pull callback, so the same code exports from the ring (a range's packets) and
// from any file or URL libavformat opens. Runs on a libuv worker; cancellable; progress in atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "av.h"
#include "muxer.h"
#include "packet_ring.h"

namespace avr {

struct ExportSpec {
  bool mp3 = true;          // false: copy the packets (no re-encode)
  MuxOptions mux;           // path, format ("" = by extension), cancel
  int bitrate = 0;          // MP3 CBR, b/s; 0 = VBR with `quality`
  int quality = 2;          // MP3 VBR, 0 (best) – 9
  int sample_rate = 0;      // 0: the source's when MP3 allows it, else the nearest rate it allows
  int channels = 0;         // 0: the source's (more than two are downmixed to stereo)
  bool fill_gaps = true;    // a hole in the audio becomes silence of its length (else the audio just goes on)
  std::vector<std::pair<std::string, std::string>> tags;  // ID3v2 / container metadata
};

struct ExportProgress {
  std::atomic<int64_t> done_us{0};   // of the range, by the last packet read
  std::atomic<int64_t> total_us{0};  // the range's length (0: unknown, e.g. a live URL)
  std::atomic<int64_t> bytes{0};     // written so far
};

struct ExportResult {
  MuxResult mux;
  std::string codec;
  int64_t start = 0, end = 0;  // µs of the first and just past the last sample (or packet) written
  int sample_rate = 0, channels = 0;
  int64_t bitrate = 0;         // b/s: the encoder's setting (CBR), or the file's average
};

// One compressed audio packet, timestamps in µs; par: its connection's codec parameters.
struct AudioPacketIn {
  AVPacket* pkt = nullptr;     // filled by the source (the export unrefs it)
  const AVCodecParameters* par = nullptr;
};
using AudioPull = std::function<bool(AudioPacketIn*)>;  // false: no more

// Exports the audio presented in [from, to) µs (MP3: to the sample; copy: whole packets overlapping it).
// Throws avr::Exception: ERR_NO_AUDIO, ERR_ENCODER_MISSING, ERR_INVALID_ARG, ERR_DECODE, ERR_ENCODE,
// ERR_WRITE, ERR_ABORTED.
ExportResult ExportAudio(const AudioPull& pull, int64_t from, int64_t to, const ExportSpec& spec,
                         ExportProgress* progress);

// The audio of [from, to) µs of a ring range (PacketRing::Query without from_keyframe: audio needs no
// keyframe), clamped to what is buffered.
ExportResult ExportRange(const RangeResult& range, int64_t from, int64_t to, const ExportSpec& spec,
                         ExportProgress* progress);

}  // namespace avr
