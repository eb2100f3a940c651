'use strict';
// The NestJS floors' server (bench/http-floor.js): the framework the contract builds the gateway
// on (NestJS on Fastify), with one controller answering 202 with message ids to
// POST /api/sessions/:id/messages and …/messages/bulk, and nothing else: no guard, no pipe, no
// logger, no record.
// - Without REDIS_URL (the NestJS floor): no Redis either; the answer is all it does.
// - With REDIS_URL (the NestJS + BullMQ floor): each message becomes one BullMQ job, shaped as the
//   gateway's (bench/raw-bullmq.js), in the session's queue `out.{<id>}` under FLOOR_PREFIX: one
//   `Queue.add` per single message, one `FlowProducer.addBulk` per bulk request, on one
//   auto-pipelined connection per process (the gateway's producer connection is auto-pipelined
//   too). A gateway that adds each accepted message with BullMQ from a Nest controller the same
//   way does at least this much, so this floor's rate bounds such a gateway's on this machine.
//   FLOOR_COALESCE=1 adds the single messages of one event-loop turn with one Queue.addBulk
//   instead (a design that shares BullMQ's per-call cost between concurrent requests).
//   FLOOR_PROCESSES=N runs N processes behind the port (node:cluster), as GATEWAY_WORKERS does;
//   "floor ready" on stdout says all of them listen (until then a connection may go to one).
// Plain JavaScript, so its decorators are applied by hand (what `tsc` emits for them).
require('reflect-metadata');
const cluster = require('node:cluster');
const { Body, Controller, Get, HttpCode, Module, Param, Post } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

const REDIS_URL = process.env.REDIS_URL || '';
const PROCESSES = Number(process.env.FLOOR_PROCESSES || 1);
const COALESCE = process.env.FLOOR_COALESCE === '1';

let next = 0;

/** Where the BullMQ floor puts its jobs; undefined for the plain NestJS floor. */
function bullmqSink() {
  if (!REDIS_URL) return undefined;
  const { FlowProducer, Queue } = require('bullmq');
  const { Redis } = require('ioredis');
  const { JOB_NAME, jobDataFor, sendJobOptions } = require('./raw-bullmq');
  const connection = new Redis(REDIS_URL, {
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    connectionName: 'bench-floor',
  });
  connection.on('error', () => undefined);
  const prefix = process.env.FLOOR_PREFIX;
  const queues = new Map();
  const flows = new FlowProducer({ connection, prefix });
  flows.on('error', () => undefined);
  const queueOf = (sessionId) => {
    let q = queues.get(sessionId);
    if (!q) {
      q = new Queue(`out.{${sessionId}}`, { connection, prefix });
      q.on('error', () => undefined);
      queues.set(sessionId, q);
    }
    return q;
  };
  const job = (sessionId, m) => {
    const data = jobDataFor(sessionId, String(m.to), String(m.text));
    return { name: JOB_NAME, data, opts: sendJobOptions(data.messageId) };
  };
  // FLOOR_COALESCE=1: the jobs of the single messages that arrive in one turn of the event loop
  // go in with one Queue.addBulk per session (a pipeline, not atomic: less than the gateway's
  // MULTI for a bulk), each request answered once its turn's jobs are in.
  const turns = new Map();
  const coalesced = (sessionId, j) => {
    let turn = turns.get(sessionId);
    if (!turn) {
      turn = { jobs: [] };
      turn.stored = new Promise((resolve, reject) => Object.assign(turn, { resolve, reject }));
      turns.set(sessionId, turn);
      setImmediate(() => {
        turns.delete(sessionId);
        Promise.resolve()
          .then(() => queueOf(sessionId).addBulk(turn.jobs))
          .then(turn.resolve, turn.reject);
      });
    }
    turn.jobs.push(j);
    return turn.stored;
  };
  return {
    async add(sessionId, m) {
      const j = job(sessionId, m);
      if (COALESCE) await coalesced(sessionId, j);
      else await queueOf(sessionId).add(j.name, j.data, j.opts);
      return j.data.messageId;
    },
    async addBulk(sessionId, messages) {
      const jobs = messages.map((m) => ({ ...job(sessionId, m), queueName: `out.{${sessionId}}` }));
      await flows.addBulk(jobs);
      return jobs.map((j) => j.data.messageId);
    },
  };
}

// A cluster's primary serves nothing, so it opens no connection either.
const sink = PROCESSES > 1 && cluster.isPrimary ? undefined : bullmqSink();

class MessagesController {
  send(sessionId, body) {
    // Without Redis, synchronous as it always was (the NestJS floor of earlier rounds).
    if (!sink) return { id: `msg_${next++}`, status: 'queued', to: body && body.to };
    return sink.add(sessionId, body).then((id) => ({ id, status: 'queued' }));
  }

  sendBulk(sessionId, body) {
    const messages = body.messages;
    if (!sink) return { ids: messages.map(() => `msg_${next++}`), status: 'queued' };
    return sink.addBulk(sessionId, messages).then((ids) => ({ ids, status: 'queued' }));
  }

  health() {
    return { status: 'ok' };
  }
}

function decorateMethod(cls, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  for (const decorate of decorators) decorate(cls.prototype, name, descriptor);
}

for (const [method, path] of [
  ['send', 'api/sessions/:id/messages'],
  ['sendBulk', 'api/sessions/:id/messages/bulk'],
]) {
  Param('id')(MessagesController.prototype, method, 0);
  Body()(MessagesController.prototype, method, 1);
  Reflect.defineMetadata(
    'design:paramtypes',
    [String, Object],
    MessagesController.prototype,
    method,
  );
  decorateMethod(MessagesController, method, [Post(path), HttpCode(202)]);
}
decorateMethod(MessagesController, 'health', [Get('healthz')]);
Controller()(MessagesController);

class FloorModule {}
Module({ controllers: [MessagesController] })(FloorModule);

async function main() {
  if (PROCESSES > 1 && cluster.isPrimary) {
    // The primary serves nothing: its workers share the port, as the gateway's do.
    for (let i = 0; i < PROCESSES; i++) cluster.fork();
    let listening = 0;
    cluster.on('listening', () => {
      if (++listening === PROCESSES) process.stdout.write('floor ready\n');
    });
    cluster.on('exit', () => process.exit(1));
    process.once('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
      process.exit(0);
    });
    return;
  }
  const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  if (!cluster.isWorker) process.stdout.write('floor ready\n');
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
