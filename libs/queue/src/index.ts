export * from './queue.constants';
export * from './jobs';
export * from './job-options';
export * from './message-store';
export * from './message.metrics';
export * from './outbound-queues';
export * from './message-queue.service';
export * from './webhooks';
