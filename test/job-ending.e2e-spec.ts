import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestSystem } from './support/system';

/**
 * Issue 8, point 14: every job that ends ends its record. Here BullMQ fails a job the send path
 * did not settle: the gateway that wrote it allowed one attempt (MESSAGE_MAX_ATTEMPTS=1) while
 * the worker that runs it allows five, so after a retryable failure the send path puts the
 * record back to `queued` and expects a retry that BullMQ will never make. The worker's
 * `failed` listener must end the record: without it the message stays `queued` for ever.
 */
describe('a job BullMQ fails outside the send path still ends its record', () => {
  const sys = new TestSystem('job-ending', { extra: { MESSAGE_MAX_ATTEMPTS: '1' } });
  // Media behind a server that is down (503): a retryable failure on every attempt.
  let media: Server;
  let mediaUrl: string;

  beforeAll(async () => {
    media = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    await new Promise<void>((resolve) => media.listen(0, '127.0.0.1', resolve));
    mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}/photo.jpg`;
    await sys.start([]);
    sys.startWorker('w-5-attempts', { MESSAGE_MAX_ATTEMPTS: '5', MEDIA_ALLOW_PRIVATE: 'true' });
  }, 60000);

  afterAll(async () => {
    await sys.stop();
    await new Promise((resolve) => media.close(resolve));
  }, 30000);

  it('marks the record failed with the job’s reason instead of leaving it queued', async () => {
    await sys.readySession('ending', {
      rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 },
    });
    const res = await sys.api.post('/api/sessions/ending/messages', {
      to: '15551230000',
      media: { url: mediaUrl, caption: 'never fetched' },
    });
    expect(res.status).toBe(202);
    const record = await sys.waitForMessage(res.body.id, ['failed'], 20000);
    expect(record.error).toEqual({ code: expect.any(String), message: expect.any(String) });
    expect(record.error.code).not.toBe('JOB_LOST');
    // The session itself is fine: the next message is sent.
    const next = await sys.api.post('/api/sessions/ending/messages', {
      to: '15551230001',
      text: 'after',
    });
    await sys.waitForMessage(next.body.id, ['sent', 'delivered', 'read']);
  });
});
