-- The event log: one row per accepted inbound event, one per outbound action's
-- final outcome, and one per operational event (config reloads). Times are UTC
-- RFC 3339 with milliseconds, so they sort as text in SQLite and PostgreSQL alike.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out', 'system')),
    kind        TEXT    NOT NULL,
    account     TEXT,
    group_id    TEXT,
    user_id     TEXT,
    -- What makes a redelivery recognisable (inbound only).
    dedup_key   TEXT,
    -- 0 until the engine has turned the event into actions (inbound only).
    handled     INTEGER NOT NULL DEFAULT 1,
    detail      TEXT    NOT NULL
);
CREATE UNIQUE INDEX events_dedup ON events (account, dedup_key);
CREATE INDEX events_unhandled ON events (id) WHERE handled = 0;
CREATE INDEX events_kind_at ON events (kind, at);
CREATE INDEX events_group_at ON events (account, group_id, at);

-- Per account, group and user: what the reports and the silent-member scan read.
CREATE TABLE members (
    account        TEXT NOT NULL,
    group_id       TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    nickname       TEXT,
    role           TEXT,
    joined_at      TEXT,
    left_at        TEXT,
    last_spoke_at  TEXT,
    PRIMARY KEY (account, group_id, user_id)
);

-- Every outbound action, persisted before it is sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    created_at      TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    group_id        TEXT,
    action          TEXT    NOT NULL,
    -- The typed action as qunbot's own JSON (not the wire format).
    payload         TEXT    NOT NULL,
    -- The inbound event that caused it, if any.
    cause_event_id  INTEGER,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    finished_at     TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
