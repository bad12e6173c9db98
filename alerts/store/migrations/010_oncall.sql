-- On-call directory: people, teams by district, rotations with hand-over times, overrides.
-- A team with district '*' answers for every district no other team covers.

CREATE TABLE people (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('technician', 'supervisor', 'director')),
  phone text,
  email text,
  -- Names of the webhook channels (group robots) this person's notices also go to.
  webhooks text[] NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
  id text PRIMARY KEY,
  name text NOT NULL,
  districts text[] NOT NULL DEFAULT '{}',
  supervisor_id text REFERENCES people (id),
  director_id text REFERENCES people (id),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_districts_idx ON teams USING gin (districts);

-- One rotation per team. shifts: [{name, kind: on_site|home, start: 'HH:MM', end: 'HH:MM'}];
-- members take the shifts in turn, moving on one slot every period_days from anchor_date.
CREATE TABLE rotations (
  team_id text PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
  members text[] NOT NULL,
  shifts jsonb NOT NULL,
  period_days integer NOT NULL CHECK (period_days > 0),
  anchor_date text NOT NULL CHECK (anchor_date ~ '^\d{4}-\d{2}-\d{2}$'),
  time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Someone standing in: for `replaces` in that person's shifts, or (replaces null) for the whole team.
CREATE TABLE overrides (
  id text PRIMARY KEY,
  team_id text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  person_id text NOT NULL REFERENCES people (id),
  replaces_id text REFERENCES people (id),
  from_at timestamptz NOT NULL,
  to_at timestamptz NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (to_at > from_at)
);
CREATE INDEX overrides_team_to_idx ON overrides (team_id, to_at);
