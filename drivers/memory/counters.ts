/**
 * Per-operation call counters of the in-memory backend, so tests can assert
 * request economy ("a listing of N entries costs ceil(N/1000) listPage calls").
 * The literal below lists every operation: the compiler refuses it when the
 * contract gains one that is not counted.
 */
import type { Operation } from '../decorators/forwarding.js';

export function zeroCounters(): Record<Operation, number> {
  return {
    listBuckets: 0,
    headBucket: 0,
    createBucket: 0,
    deleteBucket: 0,
    head: 0,
    get: 0,
    put: 0,
    copy: 0,
    delete: 0,
    deleteMany: 0,
    listPage: 0,
    createMultipart: 0,
    uploadPart: 0,
    uploadPartCopy: 0,
    completeMultipart: 0,
    abortMultipart: 0,
    listMultipartUploads: 0,
    listParts: 0,
    getTags: 0,
    putTags: 0,
    deleteTags: 0,
    enableVersioning: 0,
    listVersions: 0,
    signedUrl: 0,
    append: 0,
    getAcl: 0,
    putAcl: 0,
    restore: 0,
    watch: 0,
  };
}
