// probeMedia(path): how long a media file really is, by reading all of its packets (no decoding): what
// the disk recorder's index needs for a segment a crash left without a trailer. On a libuv worker.
#pragma once

#include <napi.h>

namespace avr {

// probeMedia(url) → Promise<{ duration (s), start (s), packets, keyframes }>
Napi::Value ProbeMediaBinding(const Napi::CallbackInfo& info);

}  // namespace avr
