-- An account's marks, found by account: marking skips an account that already has a mark
-- waiting (one recompute covers both), and the job takes every mark of the accounts it
-- claims at once, so that an account denied every second is recomputed once a run.
create index suggestion_marks_account on suggestion_marks (account_id);
