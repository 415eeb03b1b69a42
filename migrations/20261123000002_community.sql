-- Points: one row per movement; a balance is the sum, never a counter edited in place.
CREATE TABLE points_ledger (
    id        INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    account   TEXT    NOT NULL,
    group_id  TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    amount    INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    -- The member's display name when the row was written, for ranks.
    name      TEXT
);
CREATE INDEX points_member ON points_ledger (account, group_id, user_id);

-- One row per member and calendar day (in the configured time zone): the key makes
-- a second check-in on the same day impossible.
CREATE TABLE checkins (
    account   TEXT    NOT NULL,
    group_id  TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    streak    INTEGER NOT NULL,
    at        TEXT    NOT NULL,
    PRIMARY KEY (account, group_id, user_id, day)
);

CREATE TABLE task_progress (
    account    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('open', 'done', 'expired')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, group_id, user_id, task_id)
);

-- A code handed out; the key makes handing it out twice impossible. Unclaimed codes
-- are the pool file's lines that have no row here.
CREATE TABLE coupon_claims (
    pool      TEXT NOT NULL,
    code      TEXT NOT NULL,
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (pool, code)
);

-- Newcomers waiting for their wave's welcome.
CREATE TABLE joiners (
    account   TEXT    NOT NULL,
    group_id  TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    invited   INTEGER NOT NULL,
    at        TEXT    NOT NULL,
    PRIMARY KEY (account, group_id, user_id)
);

CREATE TABLE welcomed (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (account, group_id, user_id)
);

-- Newcomers who still have to answer the verification question.
CREATE TABLE verifying (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (account, group_id, user_id)
);

CREATE TABLE paused_groups (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (account, group_id)
);

CREATE TABLE warnings (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    by_user   TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX warnings_member ON warnings (account, group_id, user_id);

-- Wake-ups the features asked for. A timer is marked fired in the same transaction
-- as the actions it caused, so a restart neither loses nor repeats it.
CREATE TABLE timers (
    id        INTEGER PRIMARY KEY,
    due_at    TEXT NOT NULL,
    account   TEXT NOT NULL,
    wake      TEXT NOT NULL,
    fired_at  TEXT
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;
