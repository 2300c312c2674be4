// A decoded frame → the picture users asked for: scaled with libswscale (aspect kept when one side is
// given) and encoded with libavcodec's mjpeg / png encoders, or raw rgb24 / rgba / gray rows. Written once
// for grabs from the buffer and snapshot().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "av.h"

namespace avr {

struct ImageOptions {
  std::string format = "jpeg";  // jpeg | png | rgb24 | rgba | gray
  int quality = 90;             // jpeg, 1–100
  int width = 0, height = 0;    // 0: from the other (aspect kept) or the frame's own
};

struct Image {
  std::vector<uint8_t> data;
  int width = 0, height = 0, stride = 0;  // stride: raw formats only
};

// Throws avr::Exception (ERR_ENCODE).
Image RenderImage(const AVFrame* frame, const ImageOptions& o);

}  // namespace avr
