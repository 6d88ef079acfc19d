/**
 * Every command of the bucketfs command line, in the order `--help` lists
 * them. A new command is a module in this directory plus one line here.
 */
import type { RegisteredCommand } from '../command.js';
import { cacheCommand } from './cache.js';
import { checkCommand } from './check.js';
import { cp } from './cp.js';
import { demo } from './demo.js';
import { flushCommand } from './flush.js';
import { installSystemd } from './install-systemd.js';
import { invalidateCommand } from './invalidate.js';
import { ls } from './ls.js';
import { mount } from './mount.js';
import { rm } from './rm.js';
import { stat } from './stat.js';
import { status } from './status.js';
import { unmount } from './unmount.js';

export const COMMANDS: readonly RegisteredCommand[] = [
  ls, cp, rm, stat, mount, unmount, status, flushCommand, invalidateCommand, checkCommand, cacheCommand, demo, installSystemd,
];
