-- Claims a live group's chord callback for the first caller. $1 group, $2 callback id.
UPDATE {schema}.groups SET chord = $2 WHERE id = $1 AND chord IS NULL AND expires_at > now()
