-- New-member tasks counted by people as well as by tasks: newcomers who were
-- given tasks (`task.newcomer`) and newcomers who finished every one of them
-- (`task.finished`). A log from before these rows counts none of either.
ALTER TABLE rollup_days ADD COLUMN newcomers_tasked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN newcomers_finished INTEGER NOT NULL DEFAULT 0;
