-- Messages are found by id (claims, acks, fencing checks), so `seq` needs no
-- index of its own: it stays a column that orders the ready index. One btree
-- fewer to write per message, about a tenth of a publish's time on the server.
ALTER TABLE {schema}.messages DROP CONSTRAINT IF EXISTS messages_pkey;
