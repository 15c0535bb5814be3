import { defineConfig } from "vite";

// Served by `distillguard serve` under /ui/ from the binary (no CDN, no
// network at run time); every file is from this origin, nothing inline, so
// the strict Content-Security-Policy of serve holds.
export default defineConfig({
  base: "/ui/",
  build: {
    target: "es2020",
    assetsInlineLimit: 0,
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1200,
  },
});
