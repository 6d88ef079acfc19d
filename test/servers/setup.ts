/**
 * tap `before` hook: starts the Ceph RGW shared by every test file of this
 * run and records it for them (see rgw.ts). The tap runner is our parent and
 * owns the gateway; teardown.ts (tap `after`) stops it, and a watchdog does
 * so if the runner dies first.
 *
 * Always exits 0: tap aborts the whole run when `before` fails, but a gateway
 * that cannot start must only turn the RGW tests into SKIPPED lines (which
 * fail under CI), not hide every other test.
 */
import { rgwStatePath, startRgw, writeRgwState } from './rgw.js';

const owner = process.ppid;
const state = await startRgw(owner, [rgwStatePath(owner)]);
writeRgwState(state);
if ('cluster' in state) {
  const { server, readySeconds } = state.cluster;
  console.log(`# ${server.name} for this run at ${server.endpoint}, ready in ${readySeconds} s`);
} else {
  console.log(`# SKIPPED: Ceph RGW: ${state.skipped.replaceAll('\n', '\n# ')}`);
}
