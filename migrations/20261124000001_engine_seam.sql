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

-- A timer names the feature it wakes (the engine routes it by name). Wake-ups stored
-- before carry their kind only: the features that owned those kinds take them.
ALTER TABLE timers ADD COLUMN feature TEXT NOT NULL DEFAULT '';
UPDATE timers SET feature = 'onboarding'
 WHERE wake LIKE '{"kind":"onboard"%' OR wake LIKE '{"kind":"verify_deadline"%';
UPDATE timers SET feature = 'tasks'
 WHERE wake LIKE '{"kind":"remind_task"%' OR wake LIKE '{"kind":"expire_task"%';

-- Features' own records (JSON under the feature's name and a key), for state the
-- tables above do not model; the store keeps them without knowing the feature.
CREATE TABLE feature_records (
    feature     TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (feature, key)
);
