// Opening a decoder for a stream's codec parameters (find, allocate, configure, open), written once for
// every chain that decodes: the raw-input encoder, the audio meter, frame grabs.
#pragma once

#include "av.h"

namespace avr {

// threads: 0 lets libavcodec choose. err_code: the RecorderError code a failure carries.
CodecPtr OpenDecoder(const AVCodecParameters* par, AVRational pkt_timebase, int threads, const char* err_code);

}  // namespace avr
