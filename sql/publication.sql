-- 3. The publication walcast streams: the selected tables, partitioned tables through their root
--    (one topic per partitioned table, partitions attached later included). walcast uses a
--    publication it did not create as it is: add tables created later with
--    ALTER PUBLICATION {{publication}} ADD TABLE ...;  (`walcast check` lists the missing ones).
{{create}};
