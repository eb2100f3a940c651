// Media loading, shared by every driver: one entry point (loadMedia) and its limits.
export { loadMedia, MEDIA_DEFAULTS, type LoadedMedia, type MediaLimits } from './load-media';
export type { MediaLookup, ResolvedAddress } from './media-fetch';
export { MEDIA_URL_FORBIDDEN } from './media-errors';
