-- 1. The role walcast connects as: LOGIN and REPLICATION, SELECT on the tables it captures, and
--    nothing else (no superuser, owns nothing). The password comes from a psql variable so that it
--    never sits in this file: psql -v walcast_password='...' -f setup.sql
--    Skip the CREATE ROLE when the role exists; ALTER ROLE {{role}} WITH REPLICATION; then suffices.
CREATE ROLE {{role}} LOGIN REPLICATION PASSWORD :'walcast_password';
{{grants}}
