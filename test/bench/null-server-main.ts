/**
 * The null S3 server's process (started by startNullServer through fork):
 * listens on loopback, reports its port over IPC, and exits when its parent
 * disconnects or sends SIGTERM.
 */
import { listenNull } from './null-server.js';

const port = await listenNull();
process.send?.({ port });
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
