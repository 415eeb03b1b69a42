-- Side effects outside the database (word-list edits, reloads, image checks). Each is
-- committed with the decision that asked for it and carried out after that commit;
-- `attempts` counts the runs started, so a run cut short by a crash is known on the
-- next start and repeated by a handler that knows it may already have applied.
CREATE TABLE effects (
    id              INTEGER PRIMARY KEY,
    created_at      TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    cause_event_id  INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    done_at         TEXT,
    outcome         TEXT
);
CREATE INDEX effects_pending ON effects (id) WHERE done_at IS NULL;
