-- Checkpoints of the batched enrichment runs: the latest state per (job, step), and one ledger
-- row per committed batch. The local state file holds the same state; Postgres is what other
-- machines and dashboards read.
create table if not exists ops_job_checkpoints (
    job text not null,
    step text not null,
    run_id text not null,
    status text not null,
    batch_idx integer not null,
    total_batches integer not null,
    pairs_done bigint not null,
    total_pairs bigint not null,
    last_mutations integer not null,
    batch_partitions integer not null,
    plan_fingerprint text not null,
    state jsonb not null,
    updated_at timestamptz not null,
    primary key (job, step)
);

create table if not exists ops_batch_ledger (
    run_id text not null,
    step text not null,
    batch_idx integer not null,
    key_lo integer not null,
    key_hi integer not null,
    pairs bigint not null,
    rows_written bigint not null,
    seconds double precision not null,
    status text not null,
    finished_at timestamptz not null,
    primary key (run_id, step, batch_idx)
);

create index if not exists ops_batch_ledger_finished_at on ops_batch_ledger (finished_at);
