'use strict';
// The baseline: what BullMQ alone achieves on the same Redis, with jobs shaped like the
// gateway's (same queue name pattern, payload, id scheme and options), and no HTTP, validation
// or message record around them. Also the queue count used to check every phase.
const { createHash, randomUUID } = require('node:crypto');
const { FlowProducer, Queue } = require('bullmq');
const { Redis } = require('ioredis');
const { runConcurrentlyMetered, runForMetered } = require('./load');

/** `count` calls, or as many as fit in `durationMs` when that is given. */
function runPhase(meters, { count, durationMs }, inFlight, task) {
  return durationMs
    ? runForMetered(meters, durationMs, inFlight, task)
    : runConcurrentlyMetered(meters, count, inFlight, task);
}

const QUEUE_NAME = 'out.{bench}';
const JOB_NAME = 'send-message';

function connect(redisUrl) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'bench-raw' });
  redis.on('error', () => undefined);
  return redis;
}

/** The payload the gateway stores for {"to":"15551234567","text":"bench message <i>"}. */
function sendJobData(i) {
  return jobDataFor('bench', '15551234567', `bench message ${i}`);
}

/** The payload the gateway stores for a text message to `to` (digits) in session `sessionId`. */
function jobDataFor(sessionId, to, text) {
  const content = { text };
  return {
    messageId: `msg_${randomUUID().replace(/-/g, '')}`,
    sessionId,
    chatId: `${to}@c.us`,
    content,
    contentHash: createHash('sha256').update(JSON.stringify(content)).digest('hex'),
    priority: 'normal',
    createdAt: new Date().toISOString(),
    // SEND_JOB_VERSION (libs/queue/src/jobs.ts), which the gateway adds to every job.
    version: 2,
  };
}

/** The gateway's send-job options (libs/queue/src/job-options.ts) for a normal-priority message. */
function sendJobOptions(jobId) {
  return {
    jobId,
    priority: 2,
    attempts: 5,
    backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600, count: 1000 },
  };
}

/**
 * Queue.add of `count` jobs (or for `durationMs`), `inFlight` at once (`meters`: see
 * runConcurrentlyMetered).
 */
async function benchQueueAdd({
  redisUrl,
  prefix,
  count,
  durationMs,
  inFlight,
  queueName = QUEUE_NAME,
  meters = {},
}) {
  const redis = connect(redisUrl);
  const queue = new Queue(queueName, { connection: redis, prefix });
  queue.on('error', () => undefined);
  try {
    return await runPhase(meters, { count, durationMs }, inFlight, async (i) => {
      const data = sendJobData(i);
      await queue.add(JOB_NAME, data, sendJobOptions(data.messageId));
      return true;
    });
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** FlowProducer.addBulk (one MULTI/EXEC per batch, as the gateway's bulk path) of `count` jobs. */
async function benchFlowAddBulk({
  redisUrl,
  prefix,
  count,
  durationMs,
  batchSize,
  inFlight,
  meters = {},
}) {
  const redis = connect(redisUrl);
  const flows = new FlowProducer({ connection: redis, prefix });
  flows.on('error', () => undefined);
  const batches = durationMs ? undefined : Math.ceil(count / batchSize);
  try {
    return await runPhase(meters, { count: batches, durationMs }, inFlight, async (b) => {
      const size = durationMs ? batchSize : Math.min(batchSize, count - b * batchSize);
      const jobs = Array.from({ length: size }, (_, k) => {
        const data = sendJobData(b * batchSize + k);
        return {
          name: JOB_NAME,
          queueName: QUEUE_NAME,
          data,
          opts: sendJobOptions(data.messageId),
        };
      });
      await flows.addBulk(jobs);
      return true;
    });
  } finally {
    await flows.close();
    redis.disconnect();
  }
}

/** Jobs not yet processed in `out.{bench}` under `prefix`: prioritized + waiting + delayed. */
async function countQueuedJobs(redisUrl, prefix) {
  const redis = connect(redisUrl);
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
  queue.on('error', () => undefined);
  try {
    const counts = await queue.getJobCounts('prioritized', 'waiting', 'delayed');
    return (counts.prioritized ?? 0) + (counts.waiting ?? 0) + (counts.delayed ?? 0);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

module.exports = {
  JOB_NAME,
  benchFlowAddBulk,
  benchQueueAdd,
  countQueuedJobs,
  jobDataFor,
  sendJobOptions,
};
