-- Migration 3: over-the-air updates. The newest signed index accepted (the
-- replay guard), what was installed or refused and why, and activations in
-- flight (a model made current but not yet self-tested: finished or rolled
-- back at the next start).
CREATE TABLE update_accepted (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    serial        INTEGER NOT NULL,
    index_sha256  TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    accepted_at   INTEGER NOT NULL
);
CREATE TABLE update_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    from_version  TEXT NOT NULL DEFAULT '',
    to_version    TEXT NOT NULL DEFAULT '',
    result        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    serial        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE update_pending (
    name          TEXT PRIMARY KEY,
    from_version  TEXT NOT NULL DEFAULT '',
    to_version    TEXT NOT NULL,
    started_at    INTEGER NOT NULL
);
