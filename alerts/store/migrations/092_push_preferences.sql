-- Per person push preferences (issue 14 #6) and what the delivery report on a ticket shows.
-- A table of its own beside people: the directory's person columns stay as they are, and a
-- person without preferences (all channels at once, no quiet hours) simply has no row.
CREATE TABLE person_push_prefs (
  person_id text PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
  -- Channel instance names, first tried first; NULL: every serving channel at once.
  channel_order text[],
  -- How long the next channel waits for one still retrying; NULL: until it has finished.
  fallback_after_ms integer CHECK (fallback_after_ms >= 0),
  -- {"start": "HH:MM", "end": "HH:MM"} in the tickets' time zone; NULL: none.
  quiet_hours jsonb
);

-- A channel queued behind another in a person's order waits for that channel's outcome
-- (next_attempt_at then holds the fallback deadline, or NULL for none).
ALTER TABLE delivery_state ADD COLUMN waits_for text;
-- When the channel accepted the push, and the provider's receipts where it sends any.
ALTER TABLE delivery_state ADD COLUMN sent_at timestamptz;
ALTER TABLE delivery_state ADD COLUMN delivered_at timestamptz;
ALTER TABLE delivery_state ADD COLUMN read_at timestamptz;
CREATE INDEX delivery_state_waits_idx ON delivery_state (notice_id, recipient_id) WHERE waits_for IS NOT NULL;
