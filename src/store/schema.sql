-- Migration 1: the OJS mirror, the service's own tables and the views.
-- Dates are kept as OJS gives them ('YYYY-MM-DD HH:MM:SS', UTC); times of the
-- service itself are unix seconds.

CREATE TABLE journals (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    primary_locale TEXT NOT NULL,
    locales TEXT NOT NULL DEFAULT '[]',   -- JSON array
    enabled INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE sections (
    id INTEGER PRIMARY KEY,
    journal_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    abbrev TEXT NOT NULL DEFAULT ''
);

CREATE TABLE submissions (
    id INTEGER PRIMARY KEY,
    journal_id INTEGER NOT NULL,
    section_id INTEGER,
    publication_id INTEGER,
    publication_version INTEGER,
    status INTEGER NOT NULL,             -- 1 queued, 3 published, 4 declined, 5 scheduled
    stage_id INTEGER NOT NULL,           -- 1 submission, 3 review, 4 copyediting, 5 production
    submitted INTEGER NOT NULL,          -- 0 while the author is still filling it in
    locale TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',      -- in the submission's locale (or the first there is)
    abstract TEXT NOT NULL DEFAULT '',
    date_submitted TEXT,
    date_last_activity TEXT,
    last_modified TEXT,
    fingerprint TEXT NOT NULL DEFAULT '' -- what the source looked like when mirrored
);
CREATE INDEX submissions_status_stage ON submissions(status, stage_id);

CREATE TABLE publication_texts (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    abstract TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (submission_id, locale)
);

CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    seq REAL NOT NULL DEFAULT 0,
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    affiliation TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    orcid TEXT NOT NULL DEFAULT ''
);
CREATE INDEX authors_submission ON authors(submission_id, seq);

CREATE TABLE submission_terms (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                  -- keyword | subject | discipline
    locale TEXT NOT NULL,
    term TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (submission_id, kind, locale, term)
);

CREATE TABLE reviewers (
    id INTEGER PRIMARY KEY,              -- OJS user_id
    username TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    affiliation TEXT NOT NULL DEFAULT '',
    disabled INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE reviewer_interests (
    reviewer_id INTEGER NOT NULL REFERENCES reviewers(id) ON DELETE CASCADE,
    term TEXT NOT NULL,
    PRIMARY KEY (reviewer_id, term)
);

CREATE TABLE review_rounds (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    stage_id INTEGER,
    round INTEGER NOT NULL,
    status INTEGER
);

-- reviewer_id is deliberately not a foreign key: an assignment stays in the
-- history when its reviewer loses the reviewer role.
CREATE TABLE review_assignments (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    reviewer_id INTEGER NOT NULL,
    review_round_id INTEGER,
    stage_id INTEGER,
    round INTEGER,
    recommendation INTEGER,
    date_assigned TEXT,
    date_notified TEXT,
    date_confirmed TEXT,
    date_completed TEXT,
    date_due TEXT,
    date_response_due TEXT,
    last_modified TEXT,
    declined INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX review_assignments_reviewer ON review_assignments(reviewer_id);
CREATE INDEX review_assignments_submission ON review_assignments(submission_id);

CREATE TABLE editorial_decisions (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    review_round_id INTEGER,
    stage_id INTEGER,
    round INTEGER,
    editor_id INTEGER NOT NULL,
    decision INTEGER NOT NULL,
    date_decided TEXT
);
CREATE INDEX editorial_decisions_submission ON editorial_decisions(submission_id);

-- Key/value state of the sync (version seen, watermarks, last success, last error).
CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT NOT NULL,               -- running | ok | error
    rows_changed INTEGER NOT NULL DEFAULT 0,
    rows_deleted INTEGER NOT NULL DEFAULT 0,
    error TEXT
);

-- The service's own tables.
CREATE TABLE agent_execution_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,                 -- e.g. reviewer_matching, screening, sync
    submission_id INTEGER,
    started_at INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'cancelled')),
    model_id TEXT,
    detail TEXT
);
CREATE INDEX agent_execution_log_started ON agent_execution_log(started_at);

CREATE TABLE quality_assessment_cache (
    submission_id INTEGER NOT NULL,
    publication_id INTEGER NOT NULL,
    publication_version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    report TEXT NOT NULL CHECK (json_valid(report)),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (submission_id, publication_id, publication_version, model_sha256)
);

CREATE TABLE reviewer_matching_scores (
    submission_id INTEGER NOT NULL,
    reviewer_id INTEGER NOT NULL,
    score REAL NOT NULL,
    excluded INTEGER NOT NULL DEFAULT 0,
    reasons TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(reasons)),
    model_sha256 TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,           -- recompute when the submission or reviewer changed
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (submission_id, reviewer_id)
);

CREATE TABLE semantic_embeddings (
    kind TEXT NOT NULL,                  -- submission | reviewer | reviewer_paper
    object_id INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim > 0),
    vector BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, object_id, model_sha256)
);

CREATE TABLE workflow_automation_state (
    workflow TEXT NOT NULL,
    submission_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workflow, submission_id)
);

-- Sampled history of metrics (the page's charts); pruned by retention.
CREATE TABLE performance_metrics (
    ts INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (name, ts)
) WITHOUT ROWID;
CREATE INDEX performance_metrics_ts ON performance_metrics(ts);

-- Submitted, still in the editorial workflow (not declined, published or scheduled).
CREATE VIEW v_pending_submissions AS
SELECT s.id AS submission_id,
       s.journal_id,
       s.title,
       s.stage_id,
       s.date_submitted,
       s.date_last_activity,
       COALESCE((SELECT group_concat(name, ', ') FROM (
            SELECT trim(a.given_name || ' ' || a.family_name) AS name
            FROM authors a WHERE a.submission_id = s.id ORDER BY a.seq, a.id)), '') AS authors
FROM submissions s
WHERE s.submitted = 1 AND s.status = 1;

CREATE VIEW v_reviewer_performance AS
SELECT r.id AS reviewer_id,
       trim(r.given_name || ' ' || r.family_name) AS name,
       COUNT(ra.id) AS assigned,
       COALESCE(SUM(ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0), 0) AS completed,
       COALESCE(SUM(ra.declined = 1), 0) AS declined,
       COALESCE(SUM(ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0
                    AND s.status = 1), 0) AS active,
       AVG(CASE WHEN ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0
                THEN julianday(ra.date_completed) - julianday(COALESCE(ra.date_notified, ra.date_assigned)) END)
           AS avg_days_to_complete,
       MAX(ra.date_completed) AS last_review
FROM reviewers r
LEFT JOIN review_assignments ra ON ra.reviewer_id = r.id
LEFT JOIN submissions s ON s.id = ra.submission_id
GROUP BY r.id;
