/**
 * The ceph.conf of the loopback test cluster (ceph-cluster.ts): one mon, one
 * memstore OSD, one radosgw, all on 127.0.0.1, all files under `dir`.
 * Every non-default value says why it is there.
 */

export interface CephPorts {
  mon: number;
  rgw: number;
}

/**
 * memstore keeps objects in the OSD's RAM; this is the size it reports as its
 * device, and the OSD stops accepting writes at 95 % of it. Measured here, the
 * OSD's resident memory grows by about twice the bytes stored, so 6 GiB caps
 * it near 12 GiB on a 24 GiB machine while leaving room for a few 1 GiB
 * benchmark objects plus garbage not yet collected.
 * BUCKETFS_RGW_MEMSTORE_BYTES overrides it.
 */
const DEFAULT_MEMSTORE_BYTES = 6 * 1024 ** 3;

export function memstoreBytes(): number {
  const override = Number(process.env['BUCKETFS_RGW_MEMSTORE_BYTES']);
  return Number.isSafeInteger(override) && override > 0 ? override : DEFAULT_MEMSTORE_BYTES;
}

/**
 * tcp_nodelay on RGW's sockets, unless BUCKETFS_RGW_STOCK_TCP=1 asks for
 * Ceph's default (off). Without it a reply written in two pieces (headers,
 * then body) waits for the client's delayed ACK, about 40 ms, so every LIST,
 * CreateMultipartUpload or CompleteMultipartUpload took 45–55 ms instead of
 * 5–8 ms, and a tool's speed mostly counted its small requests.
 */
function frontendTcp(): string {
  return process.env['BUCKETFS_RGW_STOCK_TCP'] === '1' ? '' : ' tcp_nodelay=1';
}

export function cephConf(dir: string, fsid: string, ports: CephPorts): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${ports.mon}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# No cephx: a throwaway loopback cluster. With auth none the messenger must
# also use crc mode everywhere; the default "secure" mode needs cephx keys and
# radosgw then loops on "get_initial_auth_request returned -13".
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = ${dir}/log/cluster.log
mon data = ${dir}/mon/$name
osd data = ${dir}/osd/$name
# The mon batches map changes for up to 1 s by default; start-up makes about
# a dozen (osd boot, one per pool), so this takes it from ~11 s to under 1 s.
paxos propose interval = 0.01
paxos min wait = 0.01
# The mon must not stop because the temp dir's disk is nearly full.
mon data avail warn = 1
mon data avail crit = 0
# One OSD: one replica, failure domain the OSD, fixed small PG counts.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = ${memstoreBytes()}

[client]
# A client whose first request reaches a pool before the OSD is up learns of
# the OSD only at its next objecter tick, 5 s by default.
objecter tick interval = 0.5

[client.admin]
# ceph / radosgw-admin must fail, not hang, if the cluster is gone.
client mount timeout = 30
rados mon op timeout = 30
rados osd op timeout = 60

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${ports.rgw}${frontendTcp()}
rgw data = ${dir}/rgw
# Deleted and overwritten objects' data is freed by garbage collection, two
# hours later by default; memstore would hold it in RAM until then. 5 s still
# lets a reader that started before an overwrite finish a typical read.
rgw gc obj min wait = 5
rgw gc processor period = 5
`;
}
