// grabFrame's AsyncWorker: GrabFrame (frame_grab.h) on a libuv worker, the result handed to JavaScript.
#pragma once

#include <napi.h>

#include <memory>

#include "frame_grab.h"
#include "packet_ring.h"

namespace avr {

// cache: the recorder's FrameCache, kept alive while the grab runs.
Napi::Promise QueueGrab(Napi::Env env, std::shared_ptr<PacketRing> ring, std::shared_ptr<FrameCache> cache,
                        GrabOptions options);

}  // namespace avr
