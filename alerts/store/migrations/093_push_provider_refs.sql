-- Provider message ids (issue 14 #6): what a provider's delivery report names a message by
-- (Tencent SMS SerialNo, Aliyun / Tencent voice CallId), mapped to the push it was, so a report
-- arriving later — at any replica, after a restart — is recorded on that notice and person.
-- Kept a few days (reports come within minutes to hours); the channel prunes older rows.
CREATE TABLE push_provider_refs (
  channel text NOT NULL,
  ref text NOT NULL,
  notice_id text NOT NULL,
  recipient_id text NOT NULL,
  sent_at timestamptz NOT NULL,
  PRIMARY KEY (channel, ref)
);
CREATE INDEX push_provider_refs_sent ON push_provider_refs (sent_at);
