// Bad input gets a clear RecorderError before any work; nothing is written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { Recorder, RecorderError, syntheticSource } from 'av-rewind';
import { makeMedia, tmpDir } from './helpers/media.mjs';

function throwsCode(fn, code, re) {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RecorderError);
    assert.is(err.code, code);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.unreachable(`expected ${code}`);
}

async function rejectsCode(promise, code, re) {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, RecorderError, `got ${err}`);
    assert.is(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.unreachable(`expected ${code}`);
}

test('constructor rejects bad options with a message naming the option', () => {
  throwsCode(() => new Recorder(), 'ERR_INVALID_ARG', /options/);
  throwsCode(() => new Recorder({}), 'ERR_INVALID_ARG', /Expected a non-empty string for 'source' but received undefined/);
  throwsCode(
    () => new Recorder({ source: 'x.mp4', bufferSeconds: -3 }),
    'ERR_INVALID_ARG',
    /^Expected a positive number of seconds for 'bufferSeconds' but received -3$/,
  );
  throwsCode(() => new Recorder({ source: 'x.mp4', bufferSeconds: NaN }), 'ERR_INVALID_ARG', /received NaN/);
  throwsCode(() => new Recorder({ source: 'x.mp4', maxBufferBytes: 1.5 }), 'ERR_INVALID_ARG', /maxBufferBytes/);
  throwsCode(() => new Recorder({ source: 'x.mp4', readRate: 'fast' }), 'ERR_INVALID_ARG', /'readRate'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', reconnect: 'yes' }), 'ERR_INVALID_ARG', /'reconnect'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', reconnect: { delay: 0 } }), 'ERR_INVALID_ARG', /'reconnect.delay'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', inputOptions: { a: {} } }), 'ERR_INVALID_ARG', /'inputOptions.a'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', encoder: { videoCodec: 'vp9' } }), 'ERR_INVALID_ARG', /videoCodec/);
});

test('misspelled keys are rejected with a suggestion', () => {
  throwsCode(() => new Recorder({ source: 'x.mp4', bufferSecs: 10 }), 'ERR_INVALID_ARG', /Unknown option 'bufferSecs'.*Did you mean 'bufferSeconds'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', reconnect: { maxAttempt: 3 } }), 'ERR_INVALID_ARG', /'maxAttempt'.*'maxAttempts'/);
  throwsCode(() => new Recorder({ source: 'x.mp4', encoder: { gop: 2 } }), 'ERR_INVALID_ARG', /Unknown option 'gop'/);
});

test('errors carry a stack that points at the caller', () => {
  const err = throwsCode(() => new Recorder({ source: '' }), 'ERR_INVALID_ARG');
  assert.is(err.name, 'RecorderError');
  assert.match(err.stack.split('\n')[1], /options\.test\.mjs/);
});

test('saves before start are rejected, and bad save arguments before any work', async () => {
  const dir = tmpDir();
  const rec = new Recorder({ source: 'x.mp4' });
  await rejectsCode(rec.saveLast(5, path.join(dir, 'a.mp4')), 'ERR_NOT_STARTED');
  await rejectsCode(rec.saveLast(-1, path.join(dir, 'a.mp4')), 'ERR_INVALID_ARG', /'seconds' but received -1/);
  await rejectsCode(rec.saveLast(NaN, path.join(dir, 'a.mp4')), 'ERR_INVALID_ARG', /received NaN/);
  await rejectsCode(rec.saveLast(5, path.join(dir, 'a.xyz')), 'ERR_INVALID_ARG', /Cannot tell the container/);
  await rejectsCode(rec.saveLast(5, path.join(dir, 'a.mp4'), { format: 'avi' }), 'ERR_INVALID_ARG', /'format'/);
  await rejectsCode(rec.saveLast(5, path.join(dir, 'a.mkv'), { faststart: true }), 'ERR_INVALID_ARG', /faststart/);
  await rejectsCode(rec.saveLast(5, path.join(dir, 'a.mp4'), { fastStart: true }), 'ERR_INVALID_ARG', /Did you mean 'faststart'/);
  await rejectsCode(rec.saveLast(5, path.join(dir, 'missing', 'a.mp4')), 'ERR_INVALID_ARG', /not writable/);
  await rejectsCode(rec.saveLast(5, dir + '/'), 'ERR_INVALID_ARG');
  const now = Date.now();
  await rejectsCode(rec.saveRange({ from: now, to: now - 1000 }, path.join(dir, 'a.mp4')), 'ERR_INVALID_ARG', /after 'from'/);
  await rejectsCode(rec.saveRange({ from: 'yesterday', to: now }, path.join(dir, 'a.mp4')), 'ERR_INVALID_ARG', /'from'/);
  await rejectsCode(rec.saveRange({ from: new Date(), to: 5, clock: 'timeline' }, path.join(dir, 'a.mp4')), 'ERR_INVALID_ARG', /timeline seconds/);
  const err = await rejectsCode(rec.saveLast(5, path.join(dir, 'a.mp4')), 'ERR_NOT_STARTED');
  assert.match(err.stack.split('\n')[1], /options\.test\.mjs/);
  assert.equal(fs.readdirSync(dir), []);
});

test('an unreadable source rejects start() with libav\'s error', async () => {
  const rec = new Recorder({ source: '/nonexistent/file.mp4' });
  const err = await rejectsCode(rec.start(), 'ERR_OPEN_INPUT', /nonexistent/);
  assert.is(err.avCode < 0, true);
  assert.match(err.avMessage, /No such file/);
  assert.match(err.stack.split('\n')[1], /options\.test\.mjs/);
  assert.is(rec.state, 'stopped');
  await rec.stop();
});

test('a recorder whose start() failed can start again', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'later.mp4');
  const rec = new Recorder({ source: file, statsInterval: 0 });
  await rejectsCode(rec.start(), 'ERR_OPEN_INPUT');
  await rejectsCode(rec.start(), 'ERR_OPEN_INPUT');
  await makeMedia({ out: file, seconds: 2 });
  const info = await rec.start();
  assert.is(info.streams.length, 2);
  await rec.stop();
});

test('an unknown input format or demuxer option is rejected', async () => {
  await rejectsCode(new Recorder({ source: 'x', format: 'nosuchformat' }).start(), 'ERR_INVALID_ARG', /nosuchformat/);
  const src = syntheticSource({ width: 64, height: 64 });
  await rejectsCode(new Recorder({ ...src, inputOptions: { no_such_option: 1 } }).start(), 'ERR_INVALID_ARG', /no_such_option/);
});

test('start() twice is rejected; stop() is idempotent', async () => {
  const rec = new Recorder({ ...syntheticSource({ width: 64, height: 64, fps: 10 }), statsInterval: 0 });
  await rec.start();
  await rejectsCode(rec.start(), 'ERR_ALREADY_STARTED');
  await rec.stop();
  await rec.stop();
  assert.is(rec.state, 'stopped');
  await rejectsCode(rec.saveLast(1, path.join(tmpDir(), 'a.mp4')), 'ERR_NOT_STARTED');
});

test.run();
