-- Up to $2 watchers of the topic $1, oldest first.
SELECT run_id, topic, position, step, deadline, created_at
FROM {schema}.workflow_watchers
WHERE topic = $1
ORDER BY seq
LIMIT $2
