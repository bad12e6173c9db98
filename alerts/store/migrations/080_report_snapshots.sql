-- Reports frozen when they were generated (the monthly service-quality report due to management
-- before the 22nd): what management received is what the API shows later, with its time.
CREATE TABLE IF NOT EXISTS report_snapshots (
  -- 'monthly'
  kind text NOT NULL,
  -- The report's period, e.g. '2026-11'.
  period text NOT NULL,
  generated_at timestamptz NOT NULL,
  report jsonb NOT NULL,
  PRIMARY KEY (kind, period)
);
