// Debian's Chromium, headless, through playwright-core (no browser download; $CHROMIUM overrides the path), with the
// flags a closed network and a root user need; and the page server on a free port.
import { chromium } from "playwright-core";
import { serve } from "../serve.js";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--enable-unsafe-webgpu"],
  });
}

/** The server (serve.js) of ``mediaFolder`` on a free port of 127.0.0.1, and its base URL. */
export async function server(mediaFolder) {
  process.argv[2] = mediaFolder; // serve.js reads its media folder from the command line
  const s = await serve({ port: 0 });
  return { server: s, base: `http://127.0.0.1:${s.address().port}`, close: () => { s.closeAllConnections(); s.close(); } };
}
