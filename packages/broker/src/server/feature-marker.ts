/**
 * The finalized feature level a broker last applied, kept beside its store (`<data dir>/feature-level`,
 * like Kafka's meta.properties): at start-up, before the store opens, a broker too old for it
 * refuses to start with what to do, instead of failing later on the first replicated format it
 * cannot read. The controller's replicated state stays the authority; the marker only lets the
 * refusal come first. Written atomically (temporary file, then rename).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { featureLevelInitial, featureLevelMax, featureLevelMin } from '../controller/features.js';
import { streambusVersion } from '../version.js';

export const featureMarkerFileName = 'feature-level';
/** The marker is a few bytes of JSON; anything larger is not ours. */
const markerBytesMax = 4096;

interface MarkerJson {
  readonly finalized_feature_level: number;
  readonly written_by: string;
}

/** The data directory's finalized level is one this build does not read. */
export class FeatureLevelTooHighError extends Error {
  readonly code = 'FEATURE_LEVEL_TOO_HIGH' as const;
  constructor(level: number, writtenBy: string) {
    super(
      `this data directory belongs to a cluster at feature level ${level} (finalized under StreamBus ${writtenBy}); this broker (StreamBus ${streambusVersion}) reads feature levels ${featureLevelMin}..${featureLevelMax}: run a version that reads level ${level} (streambus compatibility check --version V); a finalized level cannot be lowered`,
    );
    this.name = 'FeatureLevelTooHighError';
  }
}

/** The marker of `dataDir` is not a marker (damaged or foreign). */
export class FeatureMarkerError extends Error {
  readonly code = 'FEATURE_MARKER_INVALID' as const;
}

/** The level the marker records, or featureLevelInitial when there is none (a new or older data dir). */
export async function readFeatureMarker(dataDir: string): Promise<{ level: number; writtenBy: string }> {
  const path = join(dataDir, featureMarkerFileName);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { level: featureLevelInitial, writtenBy: '' };
    throw error;
  }
  if (text.length > markerBytesMax) throw new FeatureMarkerError(`${path} is larger than a feature-level marker`);
  let parsed: Partial<MarkerJson>;
  try {
    parsed = JSON.parse(text) as Partial<MarkerJson>;
  } catch {
    throw new FeatureMarkerError(`${path} is not JSON; restore it, or remove it if the store is this broker's`);
  }
  const level = parsed.finalized_feature_level;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < featureLevelInitial)
    throw new FeatureMarkerError(`${path} has no finalized_feature_level >= ${featureLevelInitial}`);
  return { level, writtenBy: typeof parsed.written_by === 'string' ? parsed.written_by : 'unknown' };
}

/** Refuses a data directory at a level this build does not read. */
export async function checkFeatureMarker(dataDir: string): Promise<number> {
  const marker = await readFeatureMarker(dataDir);
  if (marker.level > featureLevelMax) throw new FeatureLevelTooHighError(marker.level, marker.writtenBy);
  return marker.level;
}

/** Records `level` as the data directory's finalized level. */
export async function writeFeatureMarker(dataDir: string, level: number): Promise<void> {
  const path = join(dataDir, featureMarkerFileName);
  const temporary = `${path}.tmp`;
  const body: MarkerJson = { finalized_feature_level: level, written_by: streambusVersion };
  await writeFile(temporary, `${JSON.stringify(body)}\n`, { flush: true });
  await rename(temporary, path);
}
