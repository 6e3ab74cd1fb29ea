-- 2. Replica identities. PostgreSQL rejects every UPDATE and DELETE on a published table that has
--    no replica identity (no primary key and REPLICA IDENTITY DEFAULT, or NOTHING). FULL writes the
--    whole old row to the WAL on each update and delete (more WAL; complete before-images in the
--    events); a primary key is the better fix where the table has a natural one. To leave a table
--    out instead, delete its line here and its name from the publication below.
{{statements}}
