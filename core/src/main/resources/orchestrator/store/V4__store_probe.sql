-- One row that the readiness probe rewrites: a committed write proves the disk still takes one
-- (an UPDATE that changes nothing writes nothing, and passes on a full disk).
CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)
;
INSERT INTO store_probe (id, at) VALUES (1, 0)
