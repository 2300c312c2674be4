// exportMp3(file) / exportAudio(file): the audio of any file or URL libavformat opens, through the same
// export chain as buffered ranges (audio_export.h). One libuv worker per export; cancellable.
#pragma once

#include <napi.h>

namespace avr {

// exportFile({ input, inputFormat, inputOptions, stream, openTimeout, audio: spec })
//   → { promise, cancel(), progress() }
Napi::Value ExportFileBinding(const Napi::CallbackInfo& info);

}  // namespace avr
