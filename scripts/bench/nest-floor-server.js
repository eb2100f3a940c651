'use strict';
// The NestJS floor's server (bench/http-floor.js): the framework the contract builds the gateway
// on (NestJS on Fastify), with one controller answering 202 with a message id to
// POST /api/sessions/:id/messages and nothing else: no guard, no pipe, no logger, no Redis.
// Plain JavaScript, so its decorators are applied by hand (what `tsc` emits for them).
require('reflect-metadata');
const { Body, Controller, Get, HttpCode, Module, Param, Post } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

let next = 0;

class MessagesController {
  send(_sessionId, body) {
    return { id: `msg_${next++}`, status: 'queued', to: body && body.to };
  }

  health() {
    return { status: 'ok' };
  }
}

function decorateMethod(cls, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  for (const decorate of decorators) decorate(cls.prototype, name, descriptor);
}

Param('id')(MessagesController.prototype, 'send', 0);
Body()(MessagesController.prototype, 'send', 1);
Reflect.defineMetadata('design:paramtypes', [String, Object], MessagesController.prototype, 'send');
decorateMethod(MessagesController, 'send', [Post('api/sessions/:id/messages'), HttpCode(202)]);
decorateMethod(MessagesController, 'health', [Get('healthz')]);
Controller()(MessagesController);

class FloorModule {}
Module({ controllers: [MessagesController] })(FloorModule);

async function main() {
  const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
