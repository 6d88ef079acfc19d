/**
 * Named sequences for the model test: the shrunk failures it found (a bug
 * not fixed yet runs as a tap `todo` while it is listed in known-bugs.ts),
 * and the tricky cases it must keep getting right. Each runs on a real mount
 * over a local directory, with every check of the random runs (after every
 * step, and the bucket at the end); a case that shows only over Ceph RGW
 * runs there.
 */
import t from 'tap';
import {
  CloseCommand, FsyncCommand, FtruncateCommand, MkdirCommand, OpenCommand, PutOutOfBandCommand, ReadCommand, RenameCommand, RmdirCommand,
  TruncatePathCommand, UnlinkCommand, WriteCommand, type ModelCommand,
} from './commands.js';
import { KNOWN_BUGS, isOpenBug } from './known-bugs.js';
import type { OpenFlags } from './reference.js';
import { runSequence } from './run.js';
import { mountTargets } from '../mount/harness.js';
import { MountSession } from './world.js';

const MiB = 1024 * 1024;
const flags = (mode: OpenFlags['mode'], more: Partial<Omit<OpenFlags, 'mode'>> = {}): OpenFlags => ({
  mode, create: false, exclusive: false, truncate: false, append: false, ...more,
});
const CREATE_RW = flags('rw', { create: true });

interface Case {
  name: string;
  /** Where it shows (default: the local directory). */
  on?: 'rgw';
  /** The known-bugs.ts entry this sequence shows, while it is open. */
  bug?: string;
  commands: () => ModelCommand[];
}

const CASES: Case[] = [
  {
    name: 'fsync through a descriptor of an unlinked file succeeds (found by the model test)',
    bug: 'unlinkedOpenFile',
    commands: () => [new OpenCommand('a/x', CREATE_RW), new UnlinkCommand('a/x'), new FsyncCommand(0)],
  },
  {
    name: 'writes and reads through a descriptor of an unlinked file see its data',
    bug: 'unlinkedOpenFile',
    commands: () => [
      new OpenCommand('a/x', CREATE_RW), new WriteCommand(0, 0, 5000, 1), new FsyncCommand(0), new UnlinkCommand('a/x'),
      new WriteCommand(0, 4000, 3000, 2), new ReadCommand(0, 0, 8000), new FtruncateCommand(0, 100), new ReadCommand(0, 0, 8000), new CloseCommand(0),
    ],
  },
  {
    name: 'a descriptor of a file replaced by rename keeps working on the replaced file',
    bug: 'unlinkedOpenFile',
    commands: () => [
      new OpenCommand('a/x', CREATE_RW), new WriteCommand(0, 0, 3000, 3), new FsyncCommand(0),
      new OpenCommand('b/y', CREATE_RW), new WriteCommand(1, 0, 200, 4), new CloseCommand(1),
      // ftruncate always reaches the daemon (a read could be served from the kernel's page cache).
      new RenameCommand('b/y', 'a/x'), new FtruncateCommand(0, 1000), new ReadCommand(0, 0, 4000), new CloseCommand(0),
    ],
  },
  {
    name: 'closing descriptors of an unlinked file leaves the daemon running (found by the model test over RGW: SIGSEGV)',
    on: 'rgw',
    bug: 'unlinkedOpenFile',
    commands: () => [
      new OpenCommand('a/x', CREATE_RW), new WriteCommand(0, 0, 3000, 12),
      new OpenCommand('b/z', flags('r', { create: true })), new OpenCommand('b/z', flags('rw', { create: true, append: true })),
      new WriteCommand(1, 0, 5000, 13), new RenameCommand('b/z', 'a/z'), new UnlinkCommand('a/z'),
      // Only closes through the unlinked file's descriptors: no I/O that libfuse would refuse first.
      new CloseCommand(1), new CloseCommand(1), new CloseCommand(0),
    ],
  },
  {
    name: 'rmdir of a directory whose only file is new and not yet uploaded fails with ENOTEMPTY',
    commands: () => [new OpenCommand('a/x', flags('w', { create: true })), new RmdirCommand('a'), new CloseCommand(0), new UnlinkCommand('a/x'), new RmdirCommand('a'), new MkdirCommand('a')],
  },
  {
    name: 'O_CREAT|O_EXCL fails with EEXIST on a file that exists only on the mount so far',
    commands: () => [new OpenCommand('b/z', CREATE_RW), new OpenCommand('b/z', flags('w', { create: true, exclusive: true })), new CloseCommand(0)],
  },
  {
    name: 'an open dirty file renamed into the other directory is uploaded under its new name',
    commands: () => [
      new OpenCommand('a/x', CREATE_RW), new WriteCommand(0, 0, 100_000, 5), new FsyncCommand(0), new WriteCommand(0, 131_000, 2000, 6),
      new RenameCommand('a/x', 'b/x'), new ReadCommand(0, 130_000, 4000), new CloseCommand(0),
    ],
  },
  {
    name: 'O_APPEND writes land at the end whatever the offset, across FUSE write pieces',
    commands: () => [
      new OpenCommand('a/y', CREATE_RW), new WriteCommand(0, 0, 1000, 7), new CloseCommand(0),
      new OpenCommand('a/y', flags('w', { append: true })), new WriteCommand(0, 0, 300_000, 8), new OpenCommand('a/y', flags('r')),
      new ReadCommand(1, 290_000, 20_000), new CloseCommand(0), new CloseCommand(0),
    ],
  },
  {
    name: 'a truncate across a chunk boundary grows with zeros and never brings back the old tail',
    commands: () => [
      new OpenCommand('b/x', CREATE_RW), new WriteCommand(0, 8 * MiB - 100, 200, 9), new FtruncateCommand(0, 8 * MiB - 50),
      new FtruncateCommand(0, 8 * MiB + 50), new ReadCommand(0, 8 * MiB - 120, 200), new CloseCommand(0), new TruncatePathCommand('b/x', 10),
    ],
  },
  {
    name: 'an object replaced in the bucket is read anew at the next open (close-to-open)',
    commands: () => [
      new OpenCommand('a/z', CREATE_RW), new WriteCommand(0, 0, 70_000, 10), new CloseCommand(0),
      new OpenCommand('a/z', flags('r')), new ReadCommand(0, 0, 70_000), new CloseCommand(0),
      new PutOutOfBandCommand('a/z', 70_000, 11), new OpenCommand('a/z', flags('r')), new ReadCommand(0, 0, 70_000), new CloseCommand(0),
    ],
  },
];

const sessions = new Map<string, MountSession>();
for (const target of await mountTargets(t)) {
  if (!('skipped' in target)) sessions.set(target.name, new MountSession(target));
}
t.teardown(async () => {
  for (const session of sessions.values()) await session.close();
});

for (const c of CASES) {
  const open = c.bug !== undefined && isOpenBug(c.bug);
  const session = sessions.get(c.on ?? 'local');
  // A missing RGW was reported loudly by the harness (and fails under CI).
  if (session === undefined) {
    t.comment(`SKIPPED: ${c.name}: no ${c.on ?? 'local'} target`);
    continue;
  }
  await t.test(`${c.name} [${session.target.name}]`, { todo: open ? `bug: ${KNOWN_BUGS[c.bug ?? ''] ?? ''}` : false }, async (t) => {
    await runSequence(session, c.commands());
    t.pass('the mount agreed with the model at every step');
  });
}
