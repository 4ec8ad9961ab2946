-- Migration 2: web sign-in sessions. Only the SHA-256 of a session id is kept,
-- so a copy of the store does not let anyone sign in.
CREATE TABLE web_sessions (
    id_sha256   TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('read', 'admin')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    client      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
