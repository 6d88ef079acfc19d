/**
 * The `local` backend: a directory tree as a bucket store (drivers/local/).
 * `file:///srv/photos` is root `/srv`, bucket `photos`.
 */
export { LocalBackend, type LocalBackendOptions } from './local/backend.js';
