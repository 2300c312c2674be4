// listDevices(): the cameras this machine has. Linux: every /dev/video* that captures video, with the
// formats, sizes and frame rates its driver lists (the V4L2 enumeration ioctls), named as libavdevice's
// v4l2 device list names them. Elsewhere: libavdevice's device list of dshow / avfoundation (no formats).
#pragma once

#include <napi.h>

namespace avr {

// listDevices() → Promise<[{ path, name, driver?, formats: [{ fourcc, description, compressed,
//   sizes: [{ width, height, fps: [..] }] }] }]>
Napi::Value ListDevicesBinding(const Napi::CallbackInfo& info);

}  // namespace avr
