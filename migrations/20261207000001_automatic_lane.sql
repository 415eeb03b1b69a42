-- Automatic messages (posts, nudges, welcomes) wait in a lane of their own per
-- group, so that while an account's automatic messages pause (signs of risk
-- control) its recalls, mutes and answers in the same group still go out.
ALTER TABLE outbox ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;
DROP INDEX outbox_lanes;
CREATE INDEX outbox_lanes ON outbox (account, group_id, automatic, id) WHERE state = 'pending';
