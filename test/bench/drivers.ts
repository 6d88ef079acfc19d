/**
 * `npm run bench:drivers`: each S3-speaking driver against the raw AWS SDK on
 * one loopback Ceph RGW, plus the local and memory drivers as reference rows.
 * Clients are interleaved within each round (order rotated per round) so
 * machine noise hits all of them alike; three rounds, medians reported.
 * Prints a table and writes the same numbers to bench-results/drivers-<time>.json.
 * The target is every driver at ≥ 0.9× the raw SDK.
 * BENCH_ROUNDS and BENCH_LARGE_MIB shorten a trial run; reported numbers use the defaults.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchClient } from './client.js';
import { LibraryClient } from './library-client.js';
import { RawSdkClient, type S3Target } from './raw-sdk.js';
import { formatTable, summarise, type Row } from './stats.js';
import { KeyLedger, MiB, WORKLOADS, runLarge, runSmall, warmUp, writeRandomFile, type Measurement } from './workloads.js';
import { benchMain, loadLine, rotated, writeResults } from './runner.js';
import { startBenchServer, type BenchServer } from './server.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LARGE_SIZE = Number(process.env['BENCH_LARGE_MIB'] ?? 1024) * MiB;
const TARGET_RATIO = 0.9;
const BUCKET = 'bench';
/** tmpfs, so reading the source file costs the same for every client and no disk noise enters the upload numbers. */
const SOURCE_ROOT = '/dev/shm';

interface Setup {
  server: BenchServer;
  sourceDir: string;
  /** On the disk (os.tmpdir()): downloads land here and are fsynced; the local driver's bucket lives here too. */
  diskDir: string;
  clients: BenchClient[];
  ledger: KeyLedger;
}

/** Opens the clients into `into` one by one, so those already open are closed even if a later one fails. */
async function openClients(target: S3Target, diskDir: string, into: BenchClient[]): Promise<void> {
  const raw = new RawSdkClient(target);
  into.push(raw);
  await raw.ensureBucket();
  const credentials = { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey };
  const query = `region=${encodeURIComponent(target.region)}`;
  const endpoint = encodeURIComponent(target.endpoint);
  into.push(await LibraryClient.open('s3 driver', `s3://${target.bucket}?endpoint=${endpoint}&${query}`, { credentials }));
  into.push(await LibraryClient.open('minio driver', `minio://${new URL(target.endpoint).host}/${target.bucket}?${query}`, { credentials }));
  const localUrl = `file://${join(diskDir, 'local', target.bucket)}`;
  into.push(await LibraryClient.open('local driver', localUrl, { reference: true, create: true }));
  into.push(await LibraryClient.open('memory driver', `memory://${target.bucket}-${process.pid}`, { reference: true, create: true }));
}

const slug = (client: BenchClient) => client.name.replace(/\W+/g, '-');

async function runRound(setup: Setup, round: number, source: { path: string; size: number }): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const order = rotated(setup.clients, round);
  const prefix = (c: BenchClient) => `bench/r${round}/${slug(c)}/`;
  for (const client of order) {
    out.push(...await runLarge({ client, source, scratchDir: setup.diskDir, keyPrefix: prefix(client), ledger: setup.ledger }));
  }
  for (const client of order) out.push(...await runSmall(client, prefix(client), setup.ledger));
  return out;
}

/** Groups samples into rows (workload order, then client order) and sets each driver's ratio to the best raw-SDK row. */
function tabulate(measurements: Measurement[], clients: BenchClient[]): Row[] {
  const rowOrder = clients.flatMap((c) => [...c.uploads.map((u) => u.label), c.name]);
  const kind = new Map<string, 'baseline' | 'driver' | 'reference'>();
  for (const c of clients) {
    const k = c instanceof RawSdkClient ? 'baseline' : c.reference ? 'reference' : 'driver';
    for (const label of [c.name, ...c.uploads.map((u) => u.label)]) kind.set(label, k);
  }
  const rows: Row[] = [];
  for (const workload of Object.values(WORKLOADS)) {
    const mine = measurements.filter((m) => m.workload === workload);
    const labels = rowOrder.filter((label, i) => rowOrder.indexOf(label) === i && mine.some((m) => m.row === label));
    const group = labels.map((label) => {
      const samples = mine.filter((m) => m.row === label);
      return summarise(workload, label, (samples[0] as Measurement).unit, samples.map((m) => m.sample));
    });
    const baselines = group.filter((r) => kind.get(r.client) === 'baseline');
    const best = baselines.reduce<Row | undefined>((a, r) => (a === undefined || r.median > a.median ? r : a), undefined);
    for (const row of group) {
      const k = kind.get(row.client);
      if (k === 'reference') row.note = 'reference (no S3 server)';
      else if (k === 'baseline') row.note = row === best ? 'baseline' : `slower raw variant (${(row.median / (best?.median ?? 1)).toFixed(2)}× baseline)`;
      else if (best !== undefined) {
        row.ratio = row.median / best.median;
        row.note = `vs ${best.client}`;
      }
    }
    rows.push(...group);
  }
  return rows;
}

/** Fills `setup` step by step, so a failure half-way still lets tearDown release what was made. */
async function setUp(setup: Partial<Setup>): Promise<Setup> {
  setup.server = await startBenchServer();
  setup.ledger = new KeyLedger();
  setup.sourceDir = await mkdtemp(join(SOURCE_ROOT, 'bucketfs-bench-'));
  setup.diskDir = await mkdtemp(join(tmpdir(), 'bucketfs-bench-'));
  setup.clients = [];
  await openClients({ ...setup.server.s3, bucket: BUCKET }, setup.diskDir, setup.clients);
  return setup as Setup;
}

async function tearDown(setup: Partial<Setup>): Promise<void> {
  await setup.ledger?.removeAll();
  for (const client of setup.clients ?? []) await client.close().catch(() => undefined);
  for (const dir of [setup.sourceDir, setup.diskDir]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  await setup.server?.stop();
}

async function measure(setup: Setup): Promise<Measurement[]> {
  const source = { path: join(setup.sourceDir, 'source.bin'), size: LARGE_SIZE };
  console.log(`generating ${LARGE_SIZE / MiB} MiB of random data in ${source.path} (tmpfs); downloads go to ${setup.diskDir} (disk)`);
  await writeRandomFile(source.path, source.size);
  for (const client of setup.clients) await warmUp(client, `bench/warm-up/${slug(client)}/`, setup.ledger);
  const measurements: Measurement[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    measurements.push(...await runRound(setup, round, source));
    console.log(`round ${round + 1}/${ROUNDS} done in ${((performance.now() - t0) / 1000).toFixed(0)} s, load ${loadLine()}`);
  }
  return measurements;
}

async function report(rows: Row[], run: { startedAt: Date; loadStart: string; server: string }): Promise<void> {
  const loadEnd = loadLine();
  console.log(`\nlarge file ${LARGE_SIZE / MiB} MiB, ${ROUNDS} rounds, medians; ratio = driver / best raw SDK row;`);
  console.log('client CPU = CPU time of this process per GiB or per operation (the S3 server\'s is not included)');
  console.log(`${formatTable(rows, TARGET_RATIO)}\n\nload average at end: ${loadEnd}`);
  const short = rows.filter((r) => r.ratio !== undefined && r.ratio < TARGET_RATIO);
  console.log(short.length === 0
    ? `all drivers ≥ ${TARGET_RATIO}× raw SDK`
    : `below ${TARGET_RATIO}× raw SDK: ${short.map((r) => `${r.client} / ${r.workload}`).join('; ')}`);
  const record = {
    startedAt: run.startedAt.toISOString(), rounds: ROUNDS, largeMiB: LARGE_SIZE / MiB, targetRatio: TARGET_RATIO,
    machine: { cores: cpus().length, node: process.version, loadStart: run.loadStart, loadEnd },
    server: run.server, sourceFile: `tmpfs (${SOURCE_ROOT})`, downloadDir: `${tmpdir()} (disk)`, rows,
  };
  console.log(`results: ${await writeResults('drivers', run.startedAt, record)}`);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = loadLine();
  console.log(`load average at start: ${loadStart} (${cpus().length} cores)`);
  const setup: Partial<Setup> = {};
  const stopOnSignal = () => void tearDown(setup).finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal).once('SIGTERM', stopOnSignal);
  try {
    const ready = await setUp(setup);
    console.log(`server: ${ready.server.description}`);
    const rows = tabulate(await measure(ready), ready.clients);
    await report(rows, { startedAt, loadStart, server: ready.server.description });
  } finally {
    await tearDown(setup);
  }
}

benchMain('bench:drivers', main);
