-- Where a ticket's device (or gateway) is, from the registry when the ticket opened: WGS-84
-- whatever system the registry uses, so Grafana's geomap draws it on its (WGS-84) base maps.
ALTER TABLE tickets ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90);
ALTER TABLE tickets ADD COLUMN lon double precision CHECK (lon BETWEEN -180 AND 180);
ALTER TABLE tickets ADD CONSTRAINT tickets_point_whole CHECK ((lat IS NULL) = (lon IS NULL));
