-- Tickets opened by people: 报修 (a fault phoned in by a customer) and 投诉 (a complaint), beside the
-- tickets alerts open. Their subject is the customer's case itself ('customer', subject_id = the
-- ticket's own id), so the one-open-ticket-per-subject rule never joins them to a device's alerts.
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_subject_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_subject_check CHECK (subject IN ('device', 'gateway', 'district', 'customer'));

ALTER TABLE tickets ADD COLUMN origin text NOT NULL DEFAULT 'alert';
ALTER TABLE tickets ADD CONSTRAINT tickets_origin_check CHECK (origin IN ('alert', 'report', 'complaint'));
ALTER TABLE tickets ADD COLUMN contact_name text;
ALTER TABLE tickets ADD COLUMN contact_phone text;
ALTER TABLE tickets ADD COLUMN description text;
-- 有效投诉 justified | 沟通性投诉 communication (kind: 求助 help, 咨询 enquiry, 发泄 venting).
ALTER TABLE tickets ADD COLUMN complaint_class text;
ALTER TABLE tickets ADD CONSTRAINT tickets_complaint_class_check CHECK (complaint_class IN ('justified', 'communication'));
ALTER TABLE tickets ADD COLUMN complaint_kind text;
ALTER TABLE tickets ADD CONSTRAINT tickets_complaint_kind_check CHECK (complaint_kind IN ('help', 'enquiry', 'venting'));
-- The form's idempotency key: a double-submitted form opens one ticket.
ALTER TABLE tickets ADD COLUMN request_id text;
CREATE UNIQUE INDEX tickets_request_id ON tickets (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX tickets_origin ON tickets (origin, status);

-- What the waiting customer was told, by whom: stops the reply clocks, restarts the update-gap clock.
CREATE TABLE customer_contacts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id text NOT NULL REFERENCES tickets (id),
  at timestamptz NOT NULL,
  actor text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('phone', 'sms', 'visit', 'other')),
  message text NOT NULL
);
CREATE INDEX customer_contacts_ticket ON customer_contacts (ticket_id, id);
