import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Build: static files in dist/ (served by the api service). Dev: `npm run dev -w @agentsight/dashboard` serves the app
 * with hot reload on :5173 and proxies /api (incl. the live channel) to a running `agentsight serve`
 * (AGENTSIGHT_API_URL, default http://127.0.0.1:7396), adding its token (AGENTSIGHT_UI_TOKEN: the API needs one on loopback
 * too; `api_token` of /etc/agentsight/secrets.json).
 */
const token = process.env.AGENTSIGHT_UI_TOKEN;
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000, modulePreload: { polyfill: false } },
  server: { proxy: { '/api': { target: process.env.AGENTSIGHT_API_URL || 'http://127.0.0.1:7396', changeOrigin: false, headers: token ? { authorization: `Bearer ${token}` } : undefined } } },
});
