-- What tracks are like: tags, and per-modality embeddings.

-- Tags of a track from a source (Last.fm top tags, a data set's tag ids);
-- the weight is the source's count, or a rank weight when it gives none.
CREATE TABLE track_tags (
    track_id  INTEGER NOT NULL REFERENCES tracks (id),
    source    TEXT NOT NULL,
    tag       TEXT NOT NULL,
    weight    REAL NOT NULL,
    PRIMARY KEY (track_id, source, tag)
) WITHOUT ROWID;
CREATE INDEX track_tags_by_tag ON track_tags (tag);
