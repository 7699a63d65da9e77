-- depends: 0004_conversations
-- The per-user meeting cap is now counted once per organizer by the write jobs (the primary
-- key's organizer prefix serves that count); one index fewer to maintain on every insert.
DROP INDEX meetings_by_organizer_rel;
