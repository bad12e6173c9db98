-- Web Push subscriptions (issue 14 #4): one row per browser a person enabled phone notifications
-- in. The endpoint is the push service's address for that browser, unique across people: a phone
-- handed to another technician who subscribes again moves to them. Removed when the person turns
-- notifications off or the push service answers 404/410 (the browser dropped it).
CREATE TABLE push_subscriptions (
  endpoint text PRIMARY KEY,
  person_id text NOT NULL,
  -- The browser's P-256 public key and auth secret (base64url), which the payload is encrypted to.
  p256dh text NOT NULL,
  auth text NOT NULL,
  user_agent text,
  created_at timestamptz NOT NULL,
  last_sent_at timestamptz
);
CREATE INDEX push_subscriptions_person ON push_subscriptions (person_id);
