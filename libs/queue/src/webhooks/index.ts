export * from './webhook.types';
export * from './dead-letter-store';
export * from './webhook-job-options';
