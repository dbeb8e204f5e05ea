-- The listening store: who listened to what, when, and from which import.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE artists (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    -- identity::artist_key(name): how artists without an MBID are matched
    name_key  TEXT NOT NULL,
    mbid      TEXT UNIQUE
);
CREATE INDEX artists_by_name_key ON artists (name_key);

CREATE TABLE tracks (
    id           INTEGER PRIMARY KEY,
    artist_id    INTEGER NOT NULL REFERENCES artists (id),
    title        TEXT NOT NULL,
    album        TEXT,
    album_mbid   TEXT,
    duration_ms  INTEGER,
    mbid         TEXT UNIQUE,
    -- identity::track_key(artist, title): how tracks without an MBID are matched
    name_key     TEXT NOT NULL
);
CREATE INDEX tracks_by_name_key ON tracks (name_key);

-- Ids a track has in other catalogues: spotify:track:..., 30music item ids, ISRCs.
CREATE TABLE track_external_ids (
    namespace    TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    track_id     INTEGER NOT NULL REFERENCES tracks (id),
    PRIMARY KEY (namespace, external_id)
) WITHOUT ROWID;
CREATE INDEX track_external_ids_by_track ON track_external_ids (track_id);

-- One row per import (a file or a Last.fm user). `cursor` is what is committed:
-- records of a file, or pages of the Last.fm history; it moves in the same
-- transaction as the listens, so a killed import resumes exactly there.
CREATE TABLE import_runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('file', 'lastfm')),
    format          TEXT NOT NULL,
    -- the file's path, or the Last.fm user name
    target          TEXT NOT NULL,
    -- size and hash of the file's head: a changed file is a new import
    fingerprint     TEXT,
    user_id         INTEGER REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    cursor          INTEGER NOT NULL DEFAULT 0,
    total           INTEGER,
    range_from      INTEGER,
    range_to        INTEGER,
    records_read    INTEGER NOT NULL DEFAULT 0,
    listens_added   INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    not_listens     INTEGER NOT NULL DEFAULT 0,
    bad_timestamps  INTEGER NOT NULL DEFAULT 0,
    malformed       INTEGER NOT NULL DEFAULT 0,
    started_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    error           TEXT
);
CREATE INDEX import_runs_by_target ON import_runs (kind, target, status);

-- The first problems of each run, with where they are, for the report.
CREATE TABLE import_problems (
    run_id    INTEGER NOT NULL REFERENCES import_runs (id),
    location  TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX import_problems_by_run ON import_problems (run_id);

-- A listen is unique on (user, played_at, track): importing twice adds nothing.
-- The key order makes a user's history one contiguous, time-ordered range,
-- which is exactly how sessionization reads it.
CREATE TABLE listens (
    user_id        INTEGER NOT NULL REFERENCES users (id),
    played_at      INTEGER NOT NULL,          -- UTC seconds, start of playback
    track_id       INTEGER NOT NULL REFERENCES tracks (id),
    source         TEXT NOT NULL,             -- import format or 'player'
    ms_played      INTEGER,
    skipped        INTEGER,                   -- 0/1 when the source knows
    import_run_id  INTEGER REFERENCES import_runs (id),
    PRIMARY KEY (user_id, played_at, track_id)
) WITHOUT ROWID;
