import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

const SESSION = 'gw-cluster';
const MESSAGES = 20;

/** One POST on a connection of its own, so node:cluster hands it to the next process. */
function postOnNewConnection(url: string, body: unknown): Promise<number | string> {
  return new Promise<number | string>((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': payload.length,
        'x-api-key': TEST_API_KEY,
        connection: 'close',
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // The answer's error, when it is one, in the failure message.
        resolve(
          res.statusCode === 202 ? 202 : `${res.statusCode} ${Buffer.concat(chunks).toString()}`,
        );
      });
    });
    req.end(payload);
  });
}

/** GET on a connection of its own: status and body. */
function getOnNewConnection(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
      );
    });
    req.end();
  });
}

/** Pids of a process and all its descendants (Linux /proc). */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    /* gone */
  }
  return [pid, ...children.flatMap(processTree)];
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The value of one sample of a scrape, or null when the scrape does not have it. */
function sample(scrape: string, series: string): number | null {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

/**
 * GATEWAY_WORKERS=2: two gateway processes share the port (node:cluster). Each serves the API;
 * `/metrics`, whichever process a scrape lands on, gives the sum over both for what each
 * counts, and the fleet gauges read from Redis once (not added up).
 */
describe('gateway in cluster mode (GATEWAY_WORKERS=2)', () => {
  const system = new TestSystem('gw-cluster', { extra: { GATEWAY_WORKERS: '2' } });

  beforeAll(async () => {
    await system.start([]);
    // start() saw one process answer; a process joins the port once its Redis connection is
    // ready, and connections go to the processes in turn: wait until several answers in a row
    // (so every process) say ready.
    let inARow = 0;
    await waitFor(
      'every gateway process to be ready',
      async () => {
        const { status } = await getOnNewConnection(`${system.gateway.url}/readyz`);
        inARow = status === 200 ? inARow + 1 : 0;
        return inARow >= 4;
      },
      20000,
      20,
    );
  });
  afterAll(() => system.stop());

  it('runs a primary and two gateway processes', () => {
    // Node processes running the gateway (npm's `sh -c` wrapper names main.js too).
    const gateways = processTree(system.gateway.proc.pid).filter((pid) => {
      const [exe, script] = commandLine(pid).split(' ');
      return /(^|\/)node$/.test(exe) && (script ?? '').endsWith('gateway/src/main.js');
    });
    expect(gateways).toHaveLength(3);
  });

  it('accepts on every process and aggregates /metrics across them', async () => {
    expect((await system.api.createSession(SESSION)).status).toBe(201);
    const statuses = [];
    for (let i = 0; i < MESSAGES; i++) {
      statuses.push(
        await postOnNewConnection(`${system.gateway.url}/api/sessions/${SESSION}/messages`, {
          to: '15551234567',
          text: `cluster ${i}`,
        }),
      );
    }
    expect(statuses).toEqual(Array(MESSAGES).fill(202));

    // Several scrapes, each on its own connection (so on either process): always the total.
    for (let i = 0; i < 4; i++) {
      const { status, text: scrape } = await getOnNewConnection(`${system.gateway.url}/metrics`);
      expect(status).toBe(200);
      expect(sample(scrape, `wa_messages_accepted_total{session="${SESSION}"}`)).toBe(MESSAGES);
      // Read from Redis by the scraped process, not summed over both.
      expect(sample(scrape, 'wa_sessions')).toBe(1);
      expect(sample(scrape, 'wa_redis_up')).toBe(1);
      // Every metric declared once.
      const types = [...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
      expect(types.length).toBe(new Set(types).size);
    }
  });
});
