-- The outbox worker reads the head of each lane (an account's group), so one
-- group's backlog never stands in front of another group's actions.
CREATE INDEX outbox_lanes ON outbox (account, group_id, id) WHERE state = 'pending';
