// The programs users start from: the demo and save-last run as documented and save playable clips.
// `node --import tsx` keeps them in one process, so signals reach the program itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkClip, makeMedia, tmpDir, waitFor } from './helpers/media.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(args, { stdin = false, timeout = 30_000 } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve(code))));
  return { child, done, output: () => out };
}

test('the demo records the synthetic source and saves the last seconds', async () => {
  const out = tmpDir();
  const demo = run(['examples/demo.ts', '--seconds', '2', '--record', '3', '--out', out]);
  const code = await demo.done;
  assert.is(code, 0, demo.output());
  assert.match(demo.output(), /encoded once from rawvideo/);
  assert.match(demo.output(), /saved the last 2 s in \d+ ms/);
  const [file] = fs.readdirSync(out);
  assert.match(file, /^last-2s-.*\.mp4$/);
  await checkClip(path.join(out, file), { seconds: 2, tolerance: 2.1 });
});

test('save-last saves on Enter and on SIGUSR2, and quits when stdin closes', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 10, gopSeconds: 1 });
  const out = path.join(dir, 'clips');
  const p = run(['examples/save-last.ts', media, '3', out], { stdin: true });
  await waitFor(() => /press Enter/.test(p.output()), { timeout: 15_000, message: p.output() });
  p.child.stdin.write('\n');
  await waitFor(() => (p.output().match(/saved /g) ?? []).length === 1, { timeout: 10_000, message: p.output() });
  p.child.kill('SIGUSR2');
  await waitFor(() => (p.output().match(/saved /g) ?? []).length === 2, { timeout: 10_000, message: p.output() });
  p.child.stdin.end();
  assert.is(await p.done, 0, p.output());
  const files = fs.readdirSync(out);
  assert.is(files.length, 2, files.join());
  for (const f of files) await checkClip(path.join(out, f), { seconds: 3, tolerance: 1.05 });
});

test.run();
