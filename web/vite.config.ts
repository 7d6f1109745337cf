/// <reference types="vitest" />
// Vite config of the scn console. `npm run dev` proxies the API to a running
// broker: SCN_BROKER=http://127.0.0.1:8000 (default) npm run dev
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const broker = process.env.SCN_BROKER ?? 'http://127.0.0.1:8000';
const proxy = {
  '/api': { target: broker, changeOrigin: false },
  '/v1': { target: broker, changeOrigin: false },
};

export default defineConfig({
  plugins: [preact()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        manualChunks: (id: string) => (id.includes('node_modules/echarts') || id.includes('node_modules/zrender') ? 'echarts' : undefined),
      },
    },
  },
  server: { proxy },
  preview: { proxy },
  test: { include: ['src/**/*.test.ts'] },
});
