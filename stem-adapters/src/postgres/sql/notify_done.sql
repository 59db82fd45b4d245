-- Announces the tasks that reached a final state. $1 channel, $2 ids separated by spaces.
SELECT pg_notify($1, $2)
