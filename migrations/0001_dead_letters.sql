-- sluice's dead-letter queue. Runs with search_path set to sluice's schema
-- (`dlq.schema`, default `sluice`), so names here are unqualified.
CREATE TABLE IF NOT EXISTS dead_letters (
    id              BIGSERIAL PRIMARY KEY,
    topic           TEXT        NOT NULL,
    partition_num   INTEGER     NOT NULL,
    offset_value    BIGINT      NOT NULL,
    consumer_group  TEXT        NOT NULL,
    sink            TEXT        NOT NULL,
    table_name      TEXT,
    error_class     TEXT        NOT NULL,
    error_message   TEXT        NOT NULL,
    raw_key         BYTEA,
    raw_value       BYTEA,
    headers         JSONB       NOT NULL DEFAULT '[]'::jsonb,
    schema_id       INTEGER,
    failed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    retry_count     INTEGER     NOT NULL DEFAULT 0,
    last_retry_at   TIMESTAMPTZ,
    last_error      TEXT,
    resolved_at     TIMESTAMPTZ,
    resolution      TEXT CHECK (resolution IN ('replayed', 'discarded', 'manual')),
    CONSTRAINT dead_letters_record_uniq UNIQUE (topic, partition_num, offset_value, consumer_group, sink)
);

CREATE INDEX IF NOT EXISTS dead_letters_unresolved_idx
    ON dead_letters (consumer_group, failed_at)
    WHERE resolved_at IS NULL;
