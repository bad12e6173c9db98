-- API bearer tokens issued by an admin. Only the SHA-256 digest (hex) is kept: the token itself
-- is shown once at creation and cannot be recovered from the database.
CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator', 'technician')),
  -- The person (people.id) a technician or supervisor token acts as; not a foreign key, so a
  -- token survives the on-call directory being reloaded from its file.
  person_id text,
  sha256 text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
