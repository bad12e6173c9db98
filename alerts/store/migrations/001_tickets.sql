-- Service tickets opened from alerts, their history, SLA breaches, escalations and customer notices.
-- Times are timestamptz; ids are text so the API can show them as they are.

CREATE SEQUENCE ticket_seq;

CREATE TABLE tickets (
  id text PRIMARY KEY DEFAULT ('T' || lpad(nextval('ticket_seq')::text, 6, '0')),
  subject text NOT NULL CHECK (subject IN ('device', 'gateway')),
  subject_id text NOT NULL,
  device_id text,
  gateway_id text,
  kind text,
  vendor text,
  district text,
  address text,
  customer text,
  -- Every condition the ticket gathered, in order; which are still active is in ticket_alerts.
  conditions text[] NOT NULL DEFAULT '{}',
  -- Devices behind a gateway ticket.
  devices text[] NOT NULL DEFAULT '{}',
  priority text NOT NULL CHECK (priority IN ('emergency', 'urgent', 'normal', 'low')),
  status text NOT NULL CHECK (status IN ('opened', 'dispatched', 'acknowledged', 'on_site', 'resolved', 'followed_up', 'closed', 'cancelled')),
  opened_at timestamptz NOT NULL,
  -- When the SLA clocks of the current round started: opened_at, or the last reopen.
  sla_started_at timestamptz NOT NULL,
  round integer NOT NULL DEFAULT 0,
  dispatched_at timestamptz,
  acknowledged_at timestamptz,
  on_site_at timestamptz,
  resolved_at timestamptz,
  followed_up_at timestamptz,
  closed_at timestamptz,
  cancelled_at timestamptz,
  assignee text,
  sla_due_at timestamptz,
  follow_up_due_at timestamptz,
  repeat_of text REFERENCES tickets (id),
  device_normal_at timestamptz,
  remedy_done text,
  parts_used jsonb,
  notes text,
  satisfaction text CHECK (satisfaction IN ('satisfied', 'unsatisfied')),
  follow_up_notes text,
  -- The manual's cause, remedy, tool card and parts per condition.
  manual jsonb NOT NULL DEFAULT '[]',
  -- Escalation chain step reached (0 = technician notified) and when.
  escalation_step integer NOT NULL DEFAULT 0,
  escalated_at timestamptz,
  -- Set once auto-dispatch was tried, so a restart retries only tickets never routed.
  routed_at timestamptz,
  updated_at timestamptz NOT NULL
);

-- A subject has at most one open ticket.
CREATE UNIQUE INDEX tickets_one_open_per_subject ON tickets (subject, subject_id)
  WHERE status IN ('opened', 'dispatched', 'acknowledged', 'on_site');
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_device ON tickets (device_id, opened_at);
CREATE INDEX tickets_assignee ON tickets (assignee, status);
CREATE INDEX tickets_subject_resolved ON tickets (subject, subject_id, resolved_at);

-- The idempotency key: one row per alert id, so a redelivered or replayed alert opens nothing new.
CREATE TABLE ticket_alerts (
  alert_id text PRIMARY KEY,
  ticket_id text NOT NULL REFERENCES tickets (id),
  condition text NOT NULL,
  severity text NOT NULL,
  raised_at timestamptz NOT NULL,
  cleared_at timestamptz,
  detail jsonb
);
CREATE INDEX ticket_alerts_ticket ON ticket_alerts (ticket_id);
CREATE INDEX ticket_alerts_raised ON ticket_alerts (raised_at);

-- Audit trail: who did what when.
CREATE TABLE ticket_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id text NOT NULL REFERENCES tickets (id),
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  from_status text,
  to_status text,
  detail jsonb
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_at ON ticket_events (at, action);

CREATE TABLE ticket_comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id text NOT NULL REFERENCES tickets (id),
  at timestamptz NOT NULL,
  author text NOT NULL,
  body text NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, id);

CREATE TABLE sla_breaches (
  ticket_id text NOT NULL REFERENCES tickets (id),
  -- dispatch | acknowledge | on_site | resolve | follow_up, with '#<round>' after a reopen.
  clock text NOT NULL,
  priority text NOT NULL,
  due_at timestamptz NOT NULL,
  breached_at timestamptz NOT NULL,
  UNIQUE (ticket_id, clock)
);
CREATE INDEX sla_breaches_at ON sla_breaches (breached_at);

CREATE TABLE escalations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id text NOT NULL REFERENCES tickets (id),
  step integer NOT NULL,
  -- technician | repeat | supervisor | director
  level text NOT NULL,
  target text,
  at timestamptz NOT NULL,
  reason text NOT NULL,
  -- Makes a cause escalate once, e.g. one failed delivery seen on several channels.
  cause_key text UNIQUE
);
CREATE INDEX escalations_ticket ON escalations (ticket_id, id);

-- LOW_BALANCE / NO_BALANCE: the customer's business, not a technician's.
CREATE TABLE customer_notices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_id text NOT NULL UNIQUE,
  device_id text NOT NULL,
  customer text,
  district text,
  condition text NOT NULL,
  opened_at timestamptz NOT NULL,
  resolved_at timestamptz
);
CREATE INDEX customer_notices_device ON customer_notices (device_id);

-- Notices handed to the push dispatcher, so a failed delivery can be traced back to its ticket.
CREATE TABLE ticket_notices (
  id text PRIMARY KEY,
  ticket_id text NOT NULL,
  kind text NOT NULL,
  recipients text[] NOT NULL,
  step integer,
  created_at timestamptz NOT NULL,
  notice jsonb NOT NULL
);
CREATE INDEX ticket_notices_ticket ON ticket_notices (ticket_id);
