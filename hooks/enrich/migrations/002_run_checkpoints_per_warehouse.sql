-- One checkpoint row per (job, warehouse): the whole state of the newest run against that
-- warehouse, so its status is always the run's true status (001 kept a row per step, and a
-- finished step's row stayed 'running'). The warehouse is its identity (clickhouse://host:port/db
-- or chdb:<data path>/<db>), so two warehouses never read each other's checkpoint.
create table if not exists ops_run_checkpoints (
    job text not null,
    warehouse text not null,
    run_id text not null,
    status text not null,
    step text not null,
    batches_done integer not null,
    total_batches integer not null,
    pairs_done bigint not null,
    total_pairs bigint not null,
    state jsonb not null,
    updated_at timestamptz not null,
    primary key (job, warehouse)
);

alter table ops_batch_ledger add column if not exists warehouse text;

-- The run lock of a warehouse: one row per (job, warehouse) while a runner holds it. A holder
-- refreshes heartbeat_at; a row whose heartbeat is older than the lease, or whose holder process
-- is gone from the host that recorded it, may be taken over.
create table if not exists ops_warehouse_locks (
    job text not null,
    warehouse text not null,
    holder text not null,
    host text not null,
    pid integer not null,
    acquired_at timestamptz not null,
    heartbeat_at timestamptz not null,
    primary key (job, warehouse)
);

drop table if exists ops_job_checkpoints;
