-- One row the daemon rewrites to learn whether it can still write (GET /healthz,
-- and once at start): a real write, so a read-only file, a full disk or a lock
-- held too long all show, which a read or an empty transaction would not.
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
