-- The daily roll-up `qunbot report` and `/stats` read, so a report over months
-- never rescans the raw log. It is derived: `qunbot report --rebuild` empties it
-- and reads the log again from the start. Days are calendar days in the time zone
-- named in rollup_state; a report in another zone rebuilds it.

-- How far the roll-up has read each source (the last id or rowid taken), and the
-- time zone its days are in.
CREATE TABLE rollup_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

-- Per group and day: counts that add up across days. `members` is the head count
-- at the end of the day, NULL on a day nothing changed it (the report carries the
-- last known count forward).
CREATE TABLE rollup_days (
    account              TEXT NOT NULL,
    group_id             TEXT NOT NULL,
    day                  TEXT NOT NULL,
    messages             INTEGER NOT NULL DEFAULT 0,
    speakers             INTEGER NOT NULL DEFAULT 0,
    members              INTEGER,
    joins                INTEGER NOT NULL DEFAULT 0,
    leaves               INTEGER NOT NULL DEFAULT 0,
    tasks_handed_out     INTEGER NOT NULL DEFAULT 0,
    tasks_done           INTEGER NOT NULL DEFAULT 0,
    checkins             INTEGER NOT NULL DEFAULT 0,
    points_granted       INTEGER NOT NULL DEFAULT 0,
    points_spent         INTEGER NOT NULL DEFAULT 0,
    coupons              INTEGER NOT NULL DEFAULT 0,
    filter_hits          INTEGER NOT NULL DEFAULT 0,
    strikes              INTEGER NOT NULL DEFAULT 0,
    mutes                INTEGER NOT NULL DEFAULT 0,
    removals             INTEGER NOT NULL DEFAULT 0,
    commands_refused     INTEGER NOT NULL DEFAULT 0,
    admin_commands       INTEGER NOT NULL DEFAULT 0,
    posts_sent           INTEGER NOT NULL DEFAULT 0,
    posts_delivered      INTEGER NOT NULL DEFAULT 0,
    posts_failed         INTEGER NOT NULL DEFAULT 0,
    posts_missed         INTEGER NOT NULL DEFAULT 0,
    red_packets          INTEGER NOT NULL DEFAULT 0,
    red_packet_grabs     INTEGER NOT NULL DEFAULT 0,
    red_packet_paid_out  INTEGER NOT NULL DEFAULT 0,
    red_packet_refunded  INTEGER NOT NULL DEFAULT 0,
    zombies_reported     INTEGER NOT NULL DEFAULT 0,
    zombies_removed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account, group_id)
) WITHOUT ROWID;

-- Counts kept by a key (filter hits by category, missed posts by reason, admin
-- commands by admin, reactivation by arm, ...).
CREATE TABLE rollup_breakdown (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    day       TEXT NOT NULL,
    metric    TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (day, account, group_id, metric, key)
) WITHOUT ROWID;

-- Who spoke in a group on a day: daily speakers, and distinct speakers over a range.
CREATE TABLE rollup_speakers (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    day       TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (account, group_id, day, user_id)
) WITHOUT ROWID;

-- Members present as the log tells it (member lists, joins, leaves), for the
-- head count, and the count itself per group.
CREATE TABLE rollup_presence (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (account, group_id, user_id)
) WITHOUT ROWID;
CREATE TABLE rollup_groups (
    account   TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    members   INTEGER NOT NULL,
    PRIMARY KEY (account, group_id)
) WITHOUT ROWID;

-- One row per stay (a join, up to the leave): the retention cohorts. The last day
-- the member spoke during the stay answers "spoke on or after day N".
CREATE TABLE rollup_stays (
    account         TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    joined_day      TEXT NOT NULL,
    left_day        TEXT,
    last_spoke_day  TEXT,
    PRIMARY KEY (account, group_id, user_id, joined_day)
) WITHOUT ROWID;
CREATE INDEX rollup_stays_cohort ON rollup_stays (joined_day);
