/**
 * tap `after` hook: stops the Ceph RGW that setup.ts started for this run
 * (its daemons, watchdog, temp dir and state file). A run with no recorded
 * gateway has nothing to stop. Requests the cluster found slow or blocked
 * are printed first: they explain a test that waited on the gateway.
 */
import { readRgwState, stopRgw } from './rgw.js';

const state = readRgwState(process.ppid);
if (state !== undefined) {
  const slow = stopRgw(state);
  if (slow.length > 0) console.log(['# Ceph RGW: requests its OSD found slow or blocked during the run:', ...slow].join('\n#   '));
}
