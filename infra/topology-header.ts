/**
 * Writes the C producer's stream configuration (`services/probe-producer/src/topology.h`) from the pipeline's one
 * table (`libs/contracts/src/topology.ts`, `topologyHeader`). Run after changing the raw stream's defaults:
 * `npx tsx infra/topology-header.ts`. `services/probe-producer/test/topology.spec.ts` fails while the committed
 * header differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { topologyHeader } from '../libs/contracts/src/topology';

/** Path of the generated header. */
export const TOPOLOGY_HEADER = join(__dirname, '../services/probe-producer/src/topology.h');

if (require.main === module) writeFileSync(TOPOLOGY_HEADER, topologyHeader());
