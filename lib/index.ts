export { Recorder, type RecorderEvents } from './recorder.js';
export { RecorderError, ErrorCodes, type RecorderErrorCode } from './errors.js';
export { syntheticSource, type SyntheticOptions } from './synthetic.js';
export { versions } from './native.js';
export type { RecorderOptions, ReconnectOptions, EncoderOptions, SaveOptions, SaveRange } from './options.js';
export type { SourceInfo, StreamInfo, RecorderStats, RecorderState, SaveResult, Gap } from './types.js';
export type { MeterOptions } from './options.js';
export type { LevelWindow, LevelEvent, Levels, LevelsQuery } from './levels.js';
export type { Spike, SpikeOptions, SpikeClipEvent } from './spikes.js';
