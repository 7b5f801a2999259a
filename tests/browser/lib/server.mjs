// Starts the real stadium-server binary on ephemeral loopback ports and
// stops it. The server prints its bound addresses on stdout at start; the
// HTTP one is read from the `WebSocket  ws://HOST:PORT/ws` line.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The server binary: $STADIUM_SERVER_BIN, or the workspace's debug build. */
export function serverBinary() {
  const bin = process.env.STADIUM_SERVER_BIN ?? path.join(ROOT, 'target/debug/stadium-server');
  if (!existsSync(bin)) {
    throw new Error(`${bin} not found: run \`cargo build -p stadium-server\` first`);
  }
  return bin;
}

/** Starts a server with `args` added; resolves with `{url, stop()}`. */
export function startServer(args = []) {
  const child = spawn(serverBinary(), [
    '--http-addr', '127.0.0.1:0', '--quic-addr', '127.0.0.1:0', ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error('the server did not report its address within 20 s')), 20_000);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr}`));
    }
    child.once('exit', (code) => fail(new Error(`the server exited with ${code}`)));
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/WebSocket\s+ws:\/\/([^/\s]+)\/ws/);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        url: `http://${m[1]}`,
        stderr: () => stderr,
        stop: () => stop(child),
      });
    });
  });
}

/** SIGTERM, then SIGKILL if the server has not exited in 5 s. */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
