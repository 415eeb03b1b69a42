-- Distinct speakers over a span from the day rows alone: each day row lists the
-- members who spoke on it (user ids, one per line; ids never hold control
-- characters), so a report unions a few bytes per group-day instead of
-- counting distinct rows over millions of speaker-days. The speakers table stays:
-- it tells a chunk whether a member was already heard that day.
ALTER TABLE rollup_days ADD COLUMN speaker_ids TEXT;

UPDATE rollup_days SET speaker_ids = (
    SELECT group_concat(s.user_id, char(10)) FROM rollup_speakers s
    WHERE s.day = rollup_days.day AND s.account = rollup_days.account
      AND s.group_id = rollup_days.group_id
);

-- The cohorts need each stay's join day, how it went and its group: all of it
-- in the index, so a report over a quarter does not look each stay up.
DROP INDEX rollup_stays_cohort;
CREATE INDEX rollup_stays_cohort ON rollup_stays (joined_day, left_day, last_spoke_day, group_id);
