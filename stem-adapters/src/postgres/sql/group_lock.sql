-- A live group, locked until the transaction ends. $1 id.
SELECT expected FROM {schema}.groups WHERE id = $1 AND expires_at > now() FOR UPDATE
