/**
 * The web client's build (issue 6): web/ -> web/dist, which Natter serves itself (src/http/server.ts). Built at
 * install (`prepare` runs `npm run build`), shipped in the package, never built at run time.
 *
 * Everything the page loads is a file from the same origin, because the CSP allows only 'self' and no inline
 * script or style: no inline module-preload polyfill, no assets inlined as data: URLs, and the emoji data
 * (emoji-picker-element's, whose default is a CDN) copied to emoji/en/data.json beside the page.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';

const webDir = fileURLToPath(new URL('.', import.meta.url));
const repoDir = fileURLToPath(new URL('..', import.meta.url));

/** Where the page finds the emoji data, relative to index.html (the dataSource to give emoji-picker-element). */
export const EMOJI_DATA_PATH = 'emoji/en/data.json';

/** Copies emoji-picker-element-data's English emojibase data into the build, and serves it in `vite` dev. */
function emojiData(): Plugin {
  const source = createRequire(import.meta.url).resolve('emoji-picker-element-data/en/emojibase/data.json');
  return {
    name: 'natter-emoji-data',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: EMOJI_DATA_PATH, source: readFileSync(source) });
    },
    configureServer(server) {
      server.middlewares.use(`/${EMOJI_DATA_PATH}`, (_request, response) => {
        response.setHeader('Content-Type', 'application/json');
        response.end(readFileSync(source));
      });
    },
  };
}

/** `npm run dev:web` forwards IRC over WebSocket and /healthz to a Natter started with --http (this address). */
const backend = process.env['NATTER_DEV_BACKEND'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: webDir,
  // Relative asset URLs, so the client also works when a reverse proxy serves it under a path prefix.
  base: './',
  plugins: [preact(), emojiData()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2023',
    // Browsers with ES2023 support modulepreload; the polyfill would only add code.
    modulePreload: { polyfill: false },
    // Never data: URLs for fonts or scripts: every asset is a file under /assets (CSP font-src/script-src 'self').
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: {
    host: '127.0.0.1',
    // web/ imports ../src/client and ../src/protocol.
    fs: { allow: [repoDir] },
    proxy: {
      '/irc': { target: backend, ws: true },
      '/healthz': { target: backend },
      '/uploads': { target: backend },
    },
  },
  preview: { host: '127.0.0.1' },
});
