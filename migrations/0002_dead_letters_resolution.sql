-- Resolution bookkeeping of the dead-letter queue. Runs with search_path set
-- to sluice's schema (`dlq.schema`), so names here are unqualified.

-- A resolved entry always says how it was resolved, and only resolved ones do.
ALTER TABLE dead_letters
    ADD CONSTRAINT dead_letters_resolution_consistent
    CHECK ((resolved_at IS NULL) = (resolution IS NULL));

-- `sluice dlq purge --resolved --older-than 30d` and the resolved side of
-- `sluice dlq list/stats`.
CREATE INDEX IF NOT EXISTS dead_letters_resolved_idx
    ON dead_letters (consumer_group, resolved_at)
    WHERE resolved_at IS NOT NULL;

-- `sluice dlq replay` walks unresolved entries in record order
-- (topic, partition, offset), which keeps each key's entries in order.
CREATE INDEX IF NOT EXISTS dead_letters_unresolved_order_idx
    ON dead_letters (consumer_group, topic, partition_num, offset_value)
    WHERE resolved_at IS NULL;
