-- Migration 4: submission files and the figure checks. `submission_files` is
-- mirrored from OJS with its submission (replaced with it, deleted with it).
-- `figure_reports` caches a file's report by the file's and the detectors'
-- identity (sha256, model): the same bytes seen by the same models are never
-- checked twice. `figure_checks` says which file of which submission was last
-- checked (from OJS's files, or uploaded by hand), and how it went.
CREATE TABLE submission_files (
    id            INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    file_id       INTEGER NOT NULL,
    stage         INTEGER NOT NULL,
    name          TEXT NOT NULL,
    path          TEXT,
    mimetype      TEXT,
    updated_at    TEXT
);
CREATE INDEX submission_files_submission ON submission_files(submission_id);
CREATE TABLE figure_reports (
    sha256        TEXT NOT NULL,
    model         TEXT NOT NULL,
    summary       TEXT NOT NULL,
    problems      TEXT NOT NULL,
    report        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (sha256, model)
);
CREATE TABLE figure_checks (
    submission_id INTEGER NOT NULL,
    source        TEXT NOT NULL,
    name          TEXT NOT NULL,
    submission_file_id INTEGER,
    sha256        TEXT,
    model         TEXT,
    error         TEXT,
    checked_at    INTEGER NOT NULL,
    PRIMARY KEY (submission_id, source, name)
);
