import type { ModelVersion } from '../../contract/api.ts';
import { defaultCatalogFile } from '../appPaths.ts';
import { existingCatalog, pathOption, UsageError, waitingForCatalog, withServices, type Values } from './args.ts';
import { plural } from '../../contract/plural.ts';

/** The version `wanted` names: its number in the list, or its name. */
function versionNamed(versions: ModelVersion[], wanted: string): ModelVersion {
  const found = versions.find((v) => String(v.id) === wanted.trim() || v.name === wanted.trim());
  if (!found)
    throw new Error(
      `no model version "${wanted}" in the catalog; it has ${versions.map((v) => `${v.id} ${v.name}`).join(', ')}`,
    );
  return found;
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);

/**
 * `models [--db FILE] [--activate VERSION] [--json]`: the catalog's model versions (the window's Improve panel
 * lists the same); `--activate` makes one the catalog's model, an earlier one too (a rollback), and re-predicts
 * every photo without a human label, as the window's Activate does. VERSION is a number from the list or a name.
 */
export async function runModels(values: Values): Promise<void> {
  const dbFile = existingCatalog(pathOption(values, 'db') ?? defaultCatalogFile());
  const wanted = values.activate;
  if (wanted === '') throw new UsageError('--activate needs a version: its number or name from `models`');
  const cancel = new AbortController();
  const onSigint = () => cancel.abort();
  process.once('SIGINT', onSigint);
  try {
    await withServices(dbFile, { signal: cancel.signal }, async ({ api, operations }) => {
      let versions = await api.modelVersions();
      let activated: {
        name: string;
        repredicted: number;
        predictedNow: number;
        status: 'done' | 'cancelled';
        wasActive: boolean;
      } | null = null;
      if (typeof wanted === 'string') {
        const version = versionNamed(versions, wanted);
        const wasActive = version.active;
        const result = await operations.activate(version.id, {
          signal: cancel.signal,
          catalogWait: waitingForCatalog(dbFile),
        });
        activated = { name: version.name, ...result, wasActive };
        versions = await api.modelVersions();
      }
      if (values.json) {
        console.log(JSON.stringify({ versions, activated }, null, 1));
        return;
      }
      for (const v of versions)
        console.log(
          `${v.active ? '*' : ' '} ${String(v.id).padStart(3)} ${v.name}  test ${pct(v.testAccuracy)}${v.labels === null ? '' : `, fine-tuned on ${v.labels} reviewed photos`}${v.parentName ? ` from ${v.parentName}` : ''}  ${v.createdAt}`,
        );
      if (activated?.status === 'done') {
        const { name, repredicted, predictedNow } = activated;
        // Predictions the version made before (active earlier, or compared as a candidate) are taken as stored.
        const how =
          predictedNow === repredicted
            ? `re-predicted ${plural(repredicted, 'photo')} without a human label`
            : `${plural(repredicted, 'photo')} without a human label take its predictions (${predictedNow} predicted now, the others it had predicted before)`;
        console.log(`${activated.wasActive ? `${name} was already active` : `activated ${name}`}; ${how}`);
      } else if (activated)
        console.log(
          `activated ${activated.name}; re-predicting was cancelled after ${plural(activated.repredicted, 'photo')}: run the same command again to finish`,
        );
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
