import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { OnCallAnswer, OnCallDirectory, Person } from './directory.ts';
import { OnCallInvalidError, OnCallNotFoundError } from './errors.ts';
import { coverageGaps, onShiftAt, rotaSchedule, type ShiftAssignment } from './rota.ts';
import {
  checkRotation,
  type Override,
  type OverrideInput,
  OverrideInputSchema,
  parseWith,
  type PersonInput,
  PersonSchema,
  type Rotation,
  RotationSchema,
  type Team,
  TeamSchema,
} from './schemas.ts';

/** One row of a team's schedule view, with the person's name for display. */
export interface ScheduleEntry extends ShiftAssignment {
  personName?: string;
  teamId: string;
}

/** District of the fallback team that answers for every district no other team covers. */
export const ANY_DISTRICT = '*';

interface PersonRow {
  id: string;
  name: string;
  role: Person['role'];
  phone: string | null;
  email: string | null;
  webhooks: string[];
  accounts: Person['accounts'] | null;
  channel_order: string[] | null;
  fallback_after_ms: number | null;
  quiet_hours: Person['quietHours'] | null;
}
interface TeamRow {
  id: string;
  name: string;
  districts: string[];
  supervisor_id: string | null;
  director_id: string | null;
}
interface RotationRow {
  team_id: string;
  members: string[];
  shifts: Rotation['shifts'];
  period_days: number;
  anchor_date: string;
  time_zone: string;
}
interface OverrideRow {
  id: string;
  team_id: string;
  person_id: string;
  replaces_id: string | null;
  from_ms: number;
  to_ms: number;
  reason: string;
}

const PERSON_COLS = 'id, name, role, phone, email, webhooks, accounts';
// Push preferences live beside people (migration 092): a person without any has no row there.
const PEOPLE = 'people LEFT JOIN person_push_prefs pp ON pp.person_id = people.id';
const PREF_COLS = 'pp.channel_order, pp.fallback_after_ms, pp.quiet_hours';
const TEAM_COLS = 'id, name, districts, supervisor_id, director_id';
const ROTATION_COLS = 'team_id, members, shifts, period_days, anchor_date, time_zone';
// float8 reads back as a number on both node-postgres and PGlite (timestamptz would be a Date, bigint a string).
const OVERRIDE_COLS =
  'id, team_id, person_id, replaces_id, (extract(epoch from from_at) * 1000)::float8 AS from_ms, (extract(epoch from to_at) * 1000)::float8 AS to_ms, reason';

function toPerson(r: PersonRow): Person {
  const p: Person = { id: r.id, name: r.name, role: r.role, webhooks: r.webhooks ?? [] };
  if (r.phone !== null) p.phone = r.phone;
  if (r.email !== null) p.email = r.email;
  if (r.accounts && Object.keys(r.accounts).length > 0) p.accounts = r.accounts;
  if (r.channel_order !== null) p.channelOrder = r.channel_order;
  if (r.fallback_after_ms !== null) p.fallbackAfterMs = r.fallback_after_ms;
  if (r.quiet_hours !== null) p.quietHours = r.quiet_hours;
  return p;
}
function toTeam(r: TeamRow): Team {
  const t: Team = { id: r.id, name: r.name, districts: r.districts };
  if (r.supervisor_id !== null) t.supervisorId = r.supervisor_id;
  if (r.director_id !== null) t.directorId = r.director_id;
  return t;
}
function toRotation(r: RotationRow): Rotation {
  return { teamId: r.team_id, members: r.members, shifts: r.shifts, periodDays: r.period_days, anchorDate: r.anchor_date, timeZone: r.time_zone };
}
function toOverride(r: OverrideRow): Override {
  const o: Override = { id: r.id, teamId: r.team_id, personId: r.person_id, fromMs: Math.round(r.from_ms), toMs: Math.round(r.to_ms), reason: r.reason };
  if (r.replaces_id !== null) o.replacesId = r.replaces_id;
  return o;
}
const iso = (ms: number) => new Date(ms).toISOString();

/** The whole directory in memory: a few hundred people and teams at most. */
interface DirectorySnapshot {
  people: Map<string, Person>;
  /** By id. */
  teams: Team[];
  rotations: Map<string, Rotation>;
  overrides: Map<string, Override[]>;
}

function teamOf(snap: DirectorySnapshot, district: string | undefined): Team | undefined {
  const wanted = district ?? ANY_DISTRICT;
  return snap.teams.find((t) => t.districts.includes(wanted)) ?? snap.teams.find((t) => t.districts.includes(ANY_DISTRICT));
}

function answerFrom(snap: DirectorySnapshot, district: string | undefined, atMs: number): OnCallAnswer {
  const team = teamOf(snap, district);
  if (!team) throw new OnCallNotFoundError('team for district', district ?? ANY_DISTRICT);
  const overrides = (snap.overrides.get(team.id) ?? []).filter((o) => o.toMs > atMs && o.fromMs < atMs + 1);
  const duty = onShiftAt(snap.rotations.get(team.id), overrides, atMs)[0];
  const answer: OnCallAnswer = { district: district ?? ANY_DISTRICT, teamId: team.id };
  if (duty) {
    answer.technician = snap.people.get(duty.personId);
    answer.shift = { name: duty.shiftName, kind: duty.kind, startsAt: iso(duty.startMs), endsAt: iso(duty.endMs) };
  }
  if (team.supervisorId) answer.supervisor = snap.people.get(team.supervisorId);
  if (team.directorId) answer.director = snap.people.get(team.directorId);
  return answer;
}

/** A stretch in which a team has nobody on duty. */
export interface CoverageGap {
  teamId: string;
  districts: string[];
  from: string;
  to: string;
}

/**
 * The on-call directory over SQL (PostgreSQL or PGlite, migration 010): teams by district,
 * one rotation per team, overrides. Writes are validated against the exported schemas.
 */
export class SqlOnCallDirectory implements OnCallDirectory {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  #loaded: DirectorySnapshot | undefined;
  #loadedAtMs = 0;
  #loading: Promise<DirectorySnapshot> | undefined;
  #generation = 0;

  constructor(db: Db, options: { maxAgeMs?: number; now?: () => number } = {}) {
    this.#db = db;
    this.#maxAgeMs = options.maxAgeMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Who answers now, from the in-memory copy of the directory: the alarm path asks this on every
   * leak and must not wait for a query (or for a store busy with a storm's tickets). The copy is
   * replaced after every write made through this directory and reloaded when older than
   * `maxAgeMs`, which covers writes by another process.
   */
  async whoIsOnCall(district: string | undefined, atMs: number): Promise<OnCallAnswer> {
    return answerFrom(await this.#snapshot(), district, atMs);
  }

  /** The same answer without waiting, when the copy is loaded; undefined before the first load. */
  whoIsOnCallNow(district: string | undefined, atMs: number): OnCallAnswer | undefined {
    if (!this.#loaded) return undefined;
    this.#refreshIfOld();
    return answerFrom(this.#loaded, district, atMs);
  }

  /**
   * Where the rota leaves no technician on duty within [fromMs, toMs), per team and its districts;
   * `district` narrows it to the team answering for that district.
   */
  async coverageGaps(fromMs: number, toMs: number, district?: string): Promise<CoverageGap[]> {
    const snap = await this.#snapshot();
    const teams = district === undefined ? snap.teams : [teamOf(snap, district)].filter((t): t is Team => t !== undefined);
    return teams.flatMap((team) =>
      coverageGaps(snap.rotations.get(team.id), snap.overrides.get(team.id) ?? [], fromMs, toMs).map((g) => ({ teamId: team.id, districts: team.districts, from: iso(g.fromMs), to: iso(g.toMs) })),
    );
  }

  /** Loads the in-memory copy (the service stage does so at start, so the first leak finds it). */
  async load(): Promise<void> {
    await this.#snapshot(true);
  }

  /** The team answering for a district: its own, else the '*' team; undefined when neither exists. */
  async teamFor(district: string | undefined): Promise<Team | undefined> {
    return teamOf(await this.#snapshot(), district);
  }

  async person(id: string): Promise<Person | undefined> {
    return (await this.#snapshot()).people.get(id);
  }

  #refreshIfOld(): void {
    if (this.#now() - this.#loadedAtMs > this.#maxAgeMs && !this.#loading) void this.#snapshot(true).catch(() => {});
  }

  #snapshot(force = false): Promise<DirectorySnapshot> {
    if (!force && this.#loaded) {
      this.#refreshIfOld();
      return Promise.resolve(this.#loaded);
    }
    if (this.#loading && !force) return this.#loading;
    const generation = ++this.#generation;
    const loading = this.#read().then(
      (snap) => {
        // A write during the read made it stale: only the newest read is kept.
        if (generation === this.#generation) {
          this.#loaded = snap;
          this.#loadedAtMs = this.#now();
        }
        if (this.#loading === loading) this.#loading = undefined;
        return snap;
      },
      (err: unknown) => {
        if (this.#loading === loading) this.#loading = undefined;
        throw err;
      },
    );
    this.#loading = loading;
    return loading;
  }

  async #read(): Promise<DirectorySnapshot> {
    const [people, teams, rotations, overrides] = await Promise.all([
      this.#db.query<PersonRow>(`SELECT ${PERSON_COLS}, ${PREF_COLS} FROM ${PEOPLE}`),
      this.#db.query<TeamRow>(`SELECT ${TEAM_COLS} FROM teams ORDER BY id`),
      this.#db.query<RotationRow>(`SELECT ${ROTATION_COLS} FROM rotations`),
      this.#db.query<OverrideRow>(`SELECT ${OVERRIDE_COLS} FROM overrides ORDER BY from_at, id`),
    ]);
    const byTeam = new Map<string, Override[]>();
    for (const r of overrides) {
      const o = toOverride(r);
      const list = byTeam.get(o.teamId);
      if (list) list.push(o);
      else byTeam.set(o.teamId, [o]);
    }
    return {
      people: new Map(people.map((r) => [r.id, toPerson(r)])),
      teams: teams.map(toTeam),
      rotations: new Map(rotations.map((r) => [r.team_id, toRotation(r)])),
      overrides: byTeam,
    };
  }

  /** After a write: the next question reads the directory again. */
  #changed(): void {
    this.#generation++;
    this.#loaded = undefined;
    this.#loading = undefined;
  }

  async listPeople(): Promise<Person[]> {
    return (await this.#db.query<PersonRow>(`SELECT ${PERSON_COLS}, ${PREF_COLS} FROM ${PEOPLE} ORDER BY id`)).map(toPerson);
  }

  /** Creates or replaces a person. */
  async savePerson(raw: unknown): Promise<Person> {
    const p = parseWith(PersonSchema, raw, 'person');
    await this.#db.query(
      `INSERT INTO people (id, name, role, phone, email, webhooks, accounts, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (id) DO UPDATE SET name = $2, role = $3, phone = $4, email = $5, webhooks = $6, accounts = $7, updated_at = now()`,
      [p.id, p.name, p.role, p.phone ?? null, p.email ?? null, p.webhooks ?? [], p.accounts ? JSON.stringify(p.accounts) : null],
    );
    await this.#savePushPrefs(p);
    this.#changed();
    return { ...p, webhooks: p.webhooks ?? [] };
  }

  /** A saved person replaces their push preferences too: none given, none kept. */
  async #savePushPrefs(p: PersonInput): Promise<void> {
    if (p.channelOrder === undefined && p.fallbackAfterMs === undefined && p.quietHours === undefined) {
      await this.#db.query('DELETE FROM person_push_prefs WHERE person_id = $1', [p.id]);
      return;
    }
    await this.#db.query(
      `INSERT INTO person_push_prefs (person_id, channel_order, fallback_after_ms, quiet_hours) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (person_id) DO UPDATE SET channel_order = $2, fallback_after_ms = $3, quiet_hours = $4::jsonb`,
      [p.id, p.channelOrder ?? null, p.fallbackAfterMs ?? null, p.quietHours ? JSON.stringify(p.quietHours) : null],
    );
  }

  async team(id: string): Promise<Team | undefined> {
    const rows = await this.#db.query<TeamRow>(`SELECT ${TEAM_COLS} FROM teams WHERE id = $1`, [id]);
    return rows[0] ? toTeam(rows[0]) : undefined;
  }

  async listTeams(): Promise<Team[]> {
    return (await this.#db.query<TeamRow>(`SELECT ${TEAM_COLS} FROM teams ORDER BY id`)).map(toTeam);
  }

  /** Creates or replaces a team; its supervisor and director must exist with those roles. */
  async saveTeam(raw: unknown): Promise<Team> {
    const t = parseWith(TeamSchema, raw, 'team');
    for (const [id, role] of [
      [t.supervisorId, 'supervisor'],
      [t.directorId, 'director'],
    ] as const) {
      if (id === undefined) continue;
      const p = await this.person(id);
      if (!p) throw new OnCallNotFoundError('person', id);
      if (p.role !== role) throw new OnCallInvalidError(`team ${t.id}: ${id} is a ${p.role}, not a ${role}`);
    }
    await this.#db.query(
      `INSERT INTO teams (id, name, districts, supervisor_id, director_id, updated_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (id) DO UPDATE SET name = $2, districts = $3, supervisor_id = $4, director_id = $5, updated_at = now()`,
      [t.id, t.name, t.districts, t.supervisorId ?? null, t.directorId ?? null],
    );
    this.#changed();
    return t;
  }

  async rotation(teamId: string): Promise<Rotation | undefined> {
    const rows = await this.#db.query<RotationRow>(`SELECT ${ROTATION_COLS} FROM rotations WHERE team_id = $1`, [teamId]);
    return rows[0] ? toRotation(rows[0]) : undefined;
  }

  /** Creates or replaces a team's rotation; the team and every member must exist. */
  async saveRotation(raw: unknown): Promise<Rotation> {
    const r = checkRotation(parseWith(RotationSchema, raw, 'rotation'));
    if (!(await this.team(r.teamId))) throw new OnCallNotFoundError('team', r.teamId);
    const known = await this.#people(r.members);
    const missing = r.members.find((id) => !known.has(id));
    if (missing) throw new OnCallNotFoundError('person', missing);
    await this.#db.query(
      `INSERT INTO rotations (team_id, members, shifts, period_days, anchor_date, time_zone, updated_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, now())
       ON CONFLICT (team_id) DO UPDATE SET members = $2, shifts = $3::jsonb, period_days = $4, anchor_date = $5, time_zone = $6, updated_at = now()`,
      [r.teamId, r.members, JSON.stringify(r.shifts), r.periodDays, r.anchorDate, r.timeZone],
    );
    this.#changed();
    return r;
  }

  async addOverride(raw: unknown): Promise<Override> {
    const input: OverrideInput = parseWith(OverrideInputSchema, raw, 'override');
    if (input.toMs <= input.fromMs) throw new OnCallInvalidError('override: toMs must be after fromMs');
    if (!(await this.team(input.teamId))) throw new OnCallNotFoundError('team', input.teamId);
    for (const id of [input.personId, input.replacesId]) if (id !== undefined && !(await this.person(id))) throw new OnCallNotFoundError('person', id);
    const o: Override = { id: randomUUID(), ...input };
    await this.#db.query(
      'INSERT INTO overrides (id, team_id, person_id, replaces_id, from_at, to_at, reason) VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), to_timestamp($6 / 1000.0), $7)',
      [o.id, o.teamId, o.personId, o.replacesId ?? null, o.fromMs, o.toMs, o.reason],
    );
    this.#changed();
    return o;
  }

  /** Removes a team with its rotation and overrides; false when there was none. */
  async removeTeam(id: string): Promise<boolean> {
    const removed = (await this.#db.query('DELETE FROM teams WHERE id = $1 RETURNING id', [id])).length > 0;
    this.#changed();
    return removed;
  }

  /** Removes a person no team, rotation or override still names; false when there was none. */
  async removePerson(id: string): Promise<boolean> {
    const uses = await this.#db.query(
      `SELECT 1 FROM teams WHERE supervisor_id = $1 OR director_id = $1
       UNION ALL SELECT 1 FROM rotations WHERE $1 = ANY(members)
       UNION ALL SELECT 1 FROM overrides WHERE person_id = $1 OR replaces_id = $1 LIMIT 1`,
      [id],
    );
    if (uses.length > 0) throw new OnCallInvalidError(`person ${id} is still named by a team, rotation or override`);
    const removed = (await this.#db.query('DELETE FROM people WHERE id = $1 RETURNING id', [id])).length > 0;
    this.#changed();
    return removed;
  }

  /** Removes an override; false when there was none with that id. */
  async removeOverride(id: string): Promise<boolean> {
    const removed = (await this.#db.query('DELETE FROM overrides WHERE id = $1 RETURNING id', [id])).length > 0;
    this.#changed();
    return removed;
  }

  /** A team's overrides that overlap [fromMs, toMs). */
  async overrides(teamId: string, fromMs: number, toMs: number): Promise<Override[]> {
    const rows = await this.#db.query<OverrideRow>(
      `SELECT ${OVERRIDE_COLS} FROM overrides WHERE team_id = $1 AND to_at > to_timestamp($2 / 1000.0) AND from_at < to_timestamp($3 / 1000.0) ORDER BY from_at, id`,
      [teamId, fromMs, toMs],
    );
    return rows.map(toOverride);
  }

  /** Who is on duty in a team over [fromMs, toMs): shifts, stand-ins and team-wide overrides. */
  async schedule(teamId: string, fromMs: number, toMs: number): Promise<ScheduleEntry[]> {
    if (!(toMs > fromMs)) throw new OnCallInvalidError('schedule: toMs must be after fromMs');
    if (!(await this.team(teamId))) throw new OnCallNotFoundError('team', teamId);
    const [rotation, overrides] = await Promise.all([this.rotation(teamId), this.overrides(teamId, fromMs, toMs)]);
    const entries = rotaSchedule(rotation, overrides, fromMs, toMs);
    const people = await this.#people([...new Set(entries.map((e) => e.personId))]);
    return entries.map((e) => ({ ...e, teamId, personName: people.get(e.personId)?.name }));
  }

  async #people(ids: readonly string[]): Promise<Map<string, Person>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#db.query<PersonRow>(`SELECT ${PERSON_COLS}, ${PREF_COLS} FROM ${PEOPLE} WHERE id = ANY($1)`, [ids]);
    return new Map(rows.map((r) => [r.id, toPerson(r)]));
  }
}
