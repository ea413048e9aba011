/**
 * Contributor weights: how an inference's contributors' share is divided at epoch close.
 *
 * `WeightSource` is the interface Proof of Attribution implements (src/attribution,
 * `createWeightSource`): integer parts per million summing to 1,000,000 per inference, or null
 * when that inference is not attributed (yet). The fallback, `proRataWeights`, divides by the
 * accepted rows each contributor has in the datanet versions the model was trained on (the
 * factory's job rows name the versions; ModelRegistry records the same pairs on chain).
 */
import type { Db } from '../store/index.ts';

export interface WeightSource {
  contributorWeights(inferenceId: string): Promise<{ address: `0x${string}`; weightPpm: number }[] | null>;
}

export interface ContributorWeight {
  address: string;
  /** Any positive integer weight (rows for pro rata, ppm for attribution). */
  weight: bigint;
  /** The datanet this contributor's part is booked under (usage views). */
  datanetId: number | null;
}

/** The (datanet, version) pairs a fine-tuned model was trained on (none for imported adapters). */
export function trainedOn(db: Db, jobId: string): Array<{ datanetId: number; version: number }> {
  return (db.prepare('SELECT DISTINCT datanet_id, version FROM factory_job_rows WHERE job_id = ? AND datanet_id IS NOT NULL ORDER BY datanet_id, version LIMIT 256').all(jobId) as any[])
    .map((r) => ({ datanetId: r.datanet_id, version: r.version }));
}

/** Accepted rows per contributor and datanet across the model's datanet versions (versions of one datanet overlap, so each contributor counts its largest version there). */
export function proRataWeights(db: Db, jobId: string): ContributorWeight[] {
  const versions = trainedOn(db, jobId);
  const counts = new Map<string, ContributorWeight>();
  const q = db.prepare(`SELECT r.contributor, COUNT(*) n FROM datanet_version_rows v JOIN datanet_rows r ON r.id = v.row_id
    WHERE v.datanet_id = ? AND v.version = ? AND r.status = 'accepted' GROUP BY r.contributor`);
  for (const { datanetId, version } of versions) {
    for (const r of q.all(datanetId, version) as Array<{ contributor: string; n: number }>) {
      const key = `${r.contributor.toLowerCase()}:${datanetId}`;
      const c = counts.get(key);
      if (c) c.weight = c.weight > BigInt(r.n) ? c.weight : BigInt(r.n); // versions of one datanet overlap: its largest count
      else counts.set(key, { address: r.contributor, weight: BigInt(r.n), datanetId });
    }
  }
  return [...counts.values()].sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : a.address.toLowerCase() > b.address.toLowerCase() ? 1 : (a.datanetId ?? 0) - (b.datanetId ?? 0)));
}
