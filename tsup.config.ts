import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['lib/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  shims: true, // __dirname/__filename in the ESM build, to find the native addon
  target: 'node20',
  sourcemap: true,
});
