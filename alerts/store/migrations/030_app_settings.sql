-- Settings changed through the API (e.g. SLA limits), kept so they survive restarts and win over the file.
CREATE TABLE IF NOT EXISTS app_settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
