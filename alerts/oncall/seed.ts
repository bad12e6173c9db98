import { readFile } from 'node:fs/promises';
import type { Db } from '../store/db.ts';
import { OnCallInvalidError } from './errors.ts';
import { SqlOnCallDirectory } from './oncall-directory.ts';
import { checkRotation, type OnCallConfig, OnCallConfigSchema, parseWith } from './schemas.ts';

/** Parses an on-call config (people, teams, rotations): defaults filled, refused whole on any error. */
export function parseOnCallConfig(raw: unknown, source = 'oncall'): OnCallConfig {
  const config = parseWith(OnCallConfigSchema, raw, source);
  config.rotations.forEach(checkRotation);
  const people = new Set(config.people.map((p) => p.id));
  const teams = new Set(config.teams.map((t) => t.id));
  for (const t of config.teams) {
    for (const id of [t.supervisorId, t.directorId]) if (id !== undefined && !people.has(id)) throw new OnCallInvalidError(`${source}: team ${t.id} names unknown person ${id}`);
  }
  for (const r of config.rotations) {
    if (!teams.has(r.teamId)) throw new OnCallInvalidError(`${source}: rotation for unknown team ${r.teamId}`);
    const missing = r.members.find((id) => !people.has(id));
    if (missing) throw new OnCallInvalidError(`${source}: rotation ${r.teamId} names unknown person ${missing}`);
  }
  return config;
}

/** Reads and parses an on-call config JSON file; a bad file is a start-up error. */
export async function loadOnCallConfig(path: string): Promise<OnCallConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new OnCallInvalidError(`Cannot read on-call config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseOnCallConfig(raw, path);
}

/**
 * Writes the config into the directory in one transaction: records in the file are created or
 * replaced, records not in it are left alone (overrides made through the API survive a restart).
 */
export async function seedOnCall(db: Db, config: OnCallConfig): Promise<{ people: number; teams: number; rotations: number }> {
  await db.transaction(async (tx) => {
    const directory = new SqlOnCallDirectory(tx);
    for (const p of config.people) await directory.savePerson(p);
    for (const t of config.teams) await directory.saveTeam(t);
    for (const r of config.rotations) await directory.saveRotation(r);
  });
  return { people: config.people.length, teams: config.teams.length, rotations: config.rotations.length };
}
