-- Push deliveries: the notice as handed over (so pending retries survive a restart), one state row
-- per (notice, recipient, channel) that makes delivery idempotent, and a log row per attempt.

CREATE TABLE push_notices (
  id text PRIMARY KEY,
  notice jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE delivery_state (
  notice_id text NOT NULL REFERENCES push_notices (id),
  recipient_id text NOT NULL,
  channel text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'not_delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (notice_id, recipient_id, channel)
);
CREATE INDEX delivery_state_pending_idx ON delivery_state (next_attempt_at) WHERE status = 'pending';

CREATE TABLE deliveries (
  id bigserial PRIMARY KEY,
  notice_id text NOT NULL,
  recipient_id text NOT NULL,
  channel text NOT NULL,
  attempt integer NOT NULL,
  -- delivered; retry (will try again); failed (gave up); not_delivered (e.g. no open stream).
  status text NOT NULL CHECK (status IN ('delivered', 'retry', 'failed', 'not_delivered')),
  error text,
  at timestamptz NOT NULL
);
CREATE INDEX deliveries_notice_idx ON deliveries (notice_id);
