// Per topic, the mapping and the decoders the dispatcher routes its records through. With
// tombstones=delete, an upsert/insert topic also gets a key decoder: a tombstone's key is the
// JSON of the conflict-key columns only, each of them required.
import { createDecoder, type DecoderOptions } from './decode.js';
import type { DispatcherOptions, Route } from './dispatcher.js';
import type { TopicMapping } from '../core/topic-mapping.js';

export interface RouteOptions extends DecoderOptions {
  readonly tombstones: DispatcherOptions['tombstones'];
}

export function buildRoutes(
  mappings: ReadonlyMap<string, TopicMapping>,
  opts: RouteOptions,
): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  for (const [topic, mapping] of mappings) {
    const decoder = createDecoder(mapping, opts);
    if (opts.tombstones !== 'delete' || mapping.mode === 'copy') {
      routes.set(topic, { mapping, decoder });
      continue;
    }
    // createDecoder above has checked that every key column is a mapped column.
    const keyColumns = mapping.key.map((k) => ({
      ...mapping.columns.find((c) => c.name === k)!,
      required: true,
    }));
    const keyDecoder = createDecoder({ ...mapping, columns: keyColumns }, opts);
    routes.set(topic, { mapping, decoder, keyDecoder });
  }
  return routes;
}
