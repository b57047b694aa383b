// server.properties for a node of the dev clusters. 1 node: a dynamic quorum of itself and
// RF 1 internal topics. 3 nodes: static voters, RF 3 / min ISR 2, and a short broker session
// so fault tests that kill a node see failover in about 4 s.
export interface NodeLayout {
  readonly brokers: 1 | 3;
  brokerPort(i: number): number;
  controllerPort(i: number): number;
  nodeDir(i: number): string;
}

/** server.properties of node i: loopback listeners, KRaft quorum, small heaps and thread pools. */
/** The internal topics of a one-node cluster: one replica, one partition each. */
export const SINGLE_NODE_INTERNAL_TOPICS: readonly string[] = [
  'offsets.topic.replication.factor=1',
  'offsets.topic.num.partitions=1',
  'transaction.state.log.replication.factor=1',
  'transaction.state.log.min.isr=1',
  'transaction.state.log.num.partitions=1',
  'share.coordinator.state.topic.replication.factor=1',
  'share.coordinator.state.topic.min.isr=1',
];

export function serverProperties(c: NodeLayout, i: number): string {
  const [bp, cp] = [c.brokerPort(i), c.controllerPort(i)];
  const voters = [1, 2, 3].map((n) => `${n}@127.0.0.1:${c.controllerPort(n)}`).join(',');
  const lines = [
    '# Written by scripts/services.sh on each start; edits are overwritten.',
    'process.roles=broker,controller',
    `node.id=${i}`,
    `listeners=PLAINTEXT://127.0.0.1:${bp},CONTROLLER://127.0.0.1:${cp}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${bp},CONTROLLER://127.0.0.1:${cp}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${c.nodeDir(i)}/data`,
    ...(c.brokers === 1
      ? [`controller.quorum.bootstrap.servers=127.0.0.1:${cp}`, ...SINGLE_NODE_INTERNAL_TOPICS]
      : [
          `controller.quorum.voters=${voters}`,
          'offsets.topic.replication.factor=3',
          'offsets.topic.num.partitions=3',
          'transaction.state.log.replication.factor=3',
          'transaction.state.log.min.isr=2',
          'transaction.state.log.num.partitions=3',
          'share.coordinator.state.topic.replication.factor=3',
          'share.coordinator.state.topic.min.isr=2',
          '# Fault tests kill one node: topics they create without an explicit RF survive that.',
          'default.replication.factor=3',
          'min.insync.replicas=2',
          '# A SIGKILLed node keeps its partition leaderships until the controller fences it',
          '# (default 9 s session); fault tests want a faster failover on this loopback cluster.',
          'broker.session.timeout.ms=4000',
          'broker.heartbeat.interval.ms=1000',
        ]),
    'num.partitions=1',
    'auto.create.topics.enable=true',
    'group.initial.rebalance.delay.ms=0',
    'num.io.threads=2',
    'num.network.threads=2',
    'num.recovery.threads.per.data.dir=1',
    '# The cleaner allocates its dedupe buffer on-heap at startup (default 128 MiB).',
    'log.cleaner.dedupe.buffer.size=33554432',
  ];
  return lines.join('\n') + '\n';
}
