/**
 * The bucketfs storage library: one contract, five backends (s3, minio, oss,
 * local, memory), decorators (retry, fault injection, bandwidth limits) and the
 * libcloud-style Driver / Container / StoredObject API.
 */
export * from './contract.js';
export * from './errors.js';
export * from './range.js';
export * from './storage.js';
export * from './transfer.js';
export * from './remote.js';
export * from './credentials.js';
export { ForwardingBackend, type Operation } from './decorators/forwarding.js';
export { RetryingBackend, withRetries, DEFAULT_RETRY_POLICY, type RetryPolicy } from './decorators/retry.js';
export { FaultBackend, type FaultRule } from './decorators/fault.js';
export { ThrottledBackend, TokenBucket } from './decorators/throttle.js';
export { S3Backend, type S3BackendOptions } from './s3.js';
export { MinioBackend, type MinioBackendOptions } from './minio.js';
export { OssBackend, type OssBackendOptions } from './oss.js';
export { LocalBackend, type LocalBackendOptions } from './local.js';
export { MemoryBackend, sharedMemoryBackend } from './memory.js';
