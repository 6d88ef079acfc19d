/**
 * Every command of the bucketfs command line, in the order `--help` lists
 * them. A new command is a module in this directory plus one line here.
 */
import type { RegisteredCommand } from '../command.js';
import { cp } from './cp.js';
import { demo } from './demo.js';
import { ls } from './ls.js';
import { mount } from './mount.js';
import { rm } from './rm.js';
import { stat } from './stat.js';
import { unmount } from './unmount.js';

export const COMMANDS: readonly RegisteredCommand[] = [ls, cp, rm, stat, mount, unmount, demo];
