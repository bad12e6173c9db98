-- Issue 14: a person's user ids at the enterprise messengers ({wecom, dingtalk, feishu}), for app
-- messages addressed to that person; and the action tokens already redeemed, so each acts once.

ALTER TABLE people ADD COLUMN accounts jsonb;

-- A token's nonce is kept until it has expired: after that the signature check refuses it anyway.
CREATE TABLE action_token_uses (
  nonce text PRIMARY KEY,
  person_id text NOT NULL,
  ticket_id text NOT NULL,
  action text NOT NULL,
  via text NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX action_token_uses_expires_idx ON action_token_uses (expires_at);
