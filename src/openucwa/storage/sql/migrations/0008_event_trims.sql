-- depends: 0007_connecting_threads
-- Retention (OPENUCWA_EVENT_RETENTION) trims the event log by age, whoever has received the
-- events or not. What was trimmed is remembered per stream, as the highest position dropped:
-- an application that follows the stream and had not received events up to there lost some,
-- and its next answer is `resync` instead of a batch with a hole in it. A stream nobody follows
-- any more has no row (a new follower starts after everything already in the log).

CREATE TABLE event_trims (
    stream TEXT PRIMARY KEY,
    upto INTEGER NOT NULL
) WITHOUT ROWID;
