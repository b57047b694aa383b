// Builds the handle startSink returns out of the running components, exposing only what
// SinkHandle declares: callers get lifecycle, typed events and copies of state, never a
// component they could drive (pause a consumer, take from the queue) behind the sink's back.
import type { SinkConsumer } from '../kafka/sink-consumer.js';
import type { SinkMetrics } from '../metrics/sink-metrics.js';
import type { BoundedQueue } from '../pipeline/bounded-queue.js';
import type { OverflowGate } from '../pipeline/overflow-gate.js';
import type { SinkRecord } from '../core/sink-record.js';
import type { SinkEventMap, SinkEvents, SinkHandle, SinkSnapshot } from './types.js';

export interface HandleParts {
  readonly stop: () => Promise<void>;
  readonly kill: () => Promise<void>;
  readonly done: Promise<void>;
  readonly metrics: SinkMetrics;
  readonly metricsPort: number;
  readonly events: SinkEvents;
  readonly consumer: Pick<SinkConsumer, 'isJoined' | 'isPaused' | 'assignment' | 'pausedByKafka'>;
  readonly queue: Pick<BoundedQueue<SinkRecord>, 'stats'>;
  readonly gate: Pick<OverflowGate, 'stats'>;
}

export function createSinkHandle(p: HandleParts): SinkHandle {
  const { events, consumer, queue, gate } = p;
  return {
    stop: p.stop,
    kill: p.kill,
    done: p.done,
    metrics: p.metrics,
    metricsPort: p.metricsPort,
    on<E extends keyof SinkEventMap>(event: E, listener: (...args: SinkEventMap[E]) => void) {
      // @types/node's EventEmitter<T> resolves its listener type through a conditional type
      // that does not reduce for a generic key; the event map is the same one, so this is sound.
      const emitter = events as unknown as {
        on(e: E, l: typeof listener): void;
        off(e: E, l: typeof listener): void;
      };
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
    snapshot(): SinkSnapshot {
      return {
        queue: queue.stats(),
        overflowGate: gate.stats(),
        consumer: {
          joined: consumer.isJoined,
          paused: consumer.isPaused,
          assigned: consumer.assignment.size,
          kafkaPaused: consumer.pausedByKafka(),
        },
      };
    },
  };
}
