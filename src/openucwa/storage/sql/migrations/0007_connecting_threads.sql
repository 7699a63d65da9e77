-- depends: 0006_conference_sequence
-- Invitations nobody answers time out (messagingInvitation_ref: about thirty seconds). A timer
-- in the process ends them; after a restart housekeeping finds the threads still Connecting
-- through this small partial index instead of scanning every thread ever started.

CREATE INDEX threads_connecting ON threads (created_at) WHERE state = 'Connecting';
