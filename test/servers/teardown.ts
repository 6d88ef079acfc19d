/**
 * tap `after` hook: stops the Ceph RGW that setup.ts started for this run
 * (its daemons, watchdog, temp dir and state file). A run with no recorded
 * gateway has nothing to stop.
 */
import { readRgwState, stopRgw } from './rgw.js';

const state = readRgwState(process.ppid);
if (state !== undefined) stopRgw(state);
