import type { LatencyTileDocument } from '../../src/contracts/latency-tile-document.js';
import { addObservation, emptyTile, observationFromRecord, serializeTile, tileKey } from '../../src/domain/latency-tile.js';

/** A backend of a deployment as the hour tiles see it: its id, its region and how fast it answers. */
export interface TimedBackend {
  readonly backendId: string;
  readonly region: string;
  /** Service time of its fastest answer; each hour has 50 answers, 1 ms apart. */
  readonly ms: number;
}

/** Hour tiles of `deployment`, one per backend and hour of `day` (hours counted from midnight UTC). */
export function hourTiles(day: string, deployment: string, backends: readonly TimedBackend[], hours: readonly number[]): LatencyTileDocument[] {
  const documents = [];
  for (const hour of hours) {
    const time = new Date(Date.parse(`${day}T00:00:00Z`) + hour * 3_600_000).toISOString();
    for (const { backendId, region, ms } of backends) {
      const tile = emptyTile(tileKey(region, deployment, time, 'hour', backendId));
      for (let i = 0; i < 50; i++) {
        addObservation(tile, observationFromRecord({ time, account: backendId, regionCode: region, modelDeploymentName: deployment, status: 200, durationMs: ms + i }, backendId)!);
      }
      documents.push(serializeTile(tile));
    }
  }
  return documents;
}
