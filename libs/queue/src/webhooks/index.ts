export * from './webhook.types';
export * from './dead-letter-store';
