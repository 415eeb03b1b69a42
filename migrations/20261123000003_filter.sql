-- One row per filtered message of a member; escalation counts the rows within its
-- window that have not been cleared (by /pardon or by the escalation itself).
CREATE TABLE strikes (
    id        INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    account   TEXT    NOT NULL,
    group_id  TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    category  TEXT    NOT NULL,
    cleared   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX strikes_member ON strikes (account, group_id, user_id) WHERE cleared = 0;
