-- Each applied migration's SHA-256, so that `manage migrate` refuses to run when a file that was
-- already applied has changed since (a change belongs in a new migration). Rows applied before
-- this column existed get the checksum of their file as it is at the first migrate that has it.
ALTER TABLE schema_migration ADD COLUMN IF NOT EXISTS checksum text;
