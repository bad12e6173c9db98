-- Audit log: every change made through the API (tickets, device registry, SLA settings, on-call,
-- tokens), who made it, when and what. Ticket history proper stays in ticket_events; this table is
-- append-only for the application: nothing in the code updates or deletes its rows.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  -- The person the token acts as, else the token's name.
  actor text NOT NULL,
  role text NOT NULL,
  -- e.g. device.put, settings.sla.put, token.create, ticket.dispatch
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text,
  method text NOT NULL,
  path text NOT NULL,
  status integer NOT NULL,
  request_id text,
  client_ip text,
  -- The request body as sent (secrets masked, size-capped).
  detail jsonb
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
