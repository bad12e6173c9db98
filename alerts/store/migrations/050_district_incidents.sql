-- A storm across a district's gateways folds into one incident ticket whose subject is the district.
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_subject_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_subject_check CHECK (subject IN ('device', 'gateway', 'district'));
