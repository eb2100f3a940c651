import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawResponse {
  status: number;
  body: string;
}

/**
 * One request to the emulated page origin (https://web.whatsapp.com) the way Chromium makes it:
 * `CONNECT web.whatsapp.com:443` through the emulator's proxy port, TLS inside the tunnel, then
 * a raw HTTP/1.1 request. Raw on purpose: the path goes out byte for byte (a client library would
 * normalise a malformed percent-encoding away). Rejects after `timeoutMs` without an answer, so
 * a request the emulator never answers fails the test instead of hanging it.
 */
export function pageRequest(
  proxyPort: number,
  method: string,
  path: string,
  body?: string,
  timeoutMs = 5000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const raw = netConnect(proxyPort, '127.0.0.1');
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    raw.once('error', fail);
    raw.once('connect', () =>
      raw.write('CONNECT web.whatsapp.com:443 HTTP/1.1\r\nHost: web.whatsapp.com:443\r\n\r\n'),
    );
    raw.once('data', (head) => {
      if (!/^HTTP\/1\.1 200/.test(head.toString())) {
        fail(new Error(`tunnel refused: ${head.toString().split('\r\n')[0]}`));
        return;
      }
      const tls = tlsConnect({
        socket: raw,
        servername: 'web.whatsapp.com',
        rejectUnauthorized: false,
      });
      const chunks: Buffer[] = [];
      tls.on('data', (c: Buffer) => chunks.push(c));
      tls.once('error', fail);
      tls.once('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const [headers, ...rest] = text.split('\r\n\r\n');
        resolve({ status: Number(headers.split(' ')[1]), body: rest.join('\r\n\r\n') });
        tls.destroy();
      });
      tls.once('secureConnect', () => {
        const payload = body ?? '';
        tls.write(
          `${method} ${path} HTTP/1.1\r\nHost: web.whatsapp.com\r\nConnection: close\r\n` +
            (body !== undefined ? 'Content-Type: application/json\r\n' : '') +
            `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
        );
      });
    });
  });
}

/** One raw HTTP/1.1 request to the emulator's own port (the control API), path byte for byte. */
export function controlRequest(
  port: number,
  method: string,
  path: string,
  body?: string,
  timeoutMs = 5000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [headers, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(headers.split(' ')[1]), body: rest.join('\r\n\r\n') });
    });
    socket.once('connect', () => {
      const payload = body ?? '';
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
          (body !== undefined ? 'Content-Type: application/json\r\n' : '') +
          `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
      );
    });
  });
}
