// Builds whatever is missing or stale before tests, the demo and benchmarks: the native addon
// (node-gyp) and the TypeScript bundle (tsup).
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const newest = (dir, re) =>
  Math.max(0, ...readdirSync(path.join(root, dir)).filter((f) => re.test(f)).map((f) => statSync(path.join(root, dir, f)).mtimeMs));
const mtime = (f) => (existsSync(path.join(root, f)) ? statSync(path.join(root, f)).mtimeMs : 0);
const run = (cmd) => {
  console.log(`> ${cmd}`);
  execSync(cmd, { cwd: root, stdio: 'inherit' });
};

const addon = 'build/Release/av_rewind.node';
if (mtime(addon) < Math.max(newest('native', /\.(cc|h)$/), mtime('binding.gyp'))) run('npm run build:native --silent');
if (mtime('dist/index.js') < Math.max(newest('lib', /\.ts$/), mtime('tsup.config.ts'))) run('npm run build:ts --silent');
