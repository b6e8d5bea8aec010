-- Fencing (issue 23): every take of a warehouse lock gets a new epoch, a fencing token from a
-- sequence, so it only grows, also across a release (the lock row is deleted then). A runner
-- checks that the row still holds its epoch before each write it commits, and the checkpoint
-- update checks it in the same transaction: a holder paused past its lease and taken over stops
-- instead of writing over its successor.
create sequence if not exists ops_warehouse_lock_epochs;

alter table ops_warehouse_locks add column if not exists epoch bigint not null default 0;

-- A released lock keeps its row (released_at set) instead of being deleted, so a holder that lost
-- the lock can name who took it over even after that runner finished.
alter table ops_warehouse_locks add column if not exists released_at timestamptz;
