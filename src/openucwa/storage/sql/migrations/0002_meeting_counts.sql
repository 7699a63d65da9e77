-- depends: 0001_initial
-- The per-organizer cap (TooManyOnlineMeetings) counts scheduled meetings on every create:
-- a covering index keeps that count off the table rows.
CREATE INDEX meetings_by_organizer_rel ON meetings (organizer_uri, online_meeting_rel);
