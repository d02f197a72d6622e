-- A counter every change to a settings document moves. A Worker that keeps
-- its Go instance across requests (docs/edge.md, One Go instance per
-- isolate) keeps what it built from the settings (the intents' model, the
-- AI settings) and reads only this per request: when it moved, another
-- request or a wrangler d1 execute changed a document, and the instance
-- builds again from the new ones.
CREATE TABLE settings_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO settings_version (id, version) VALUES (1, 0);

CREATE TRIGGER settings_inserted AFTER INSERT ON settings BEGIN
  UPDATE settings_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER settings_updated AFTER UPDATE ON settings BEGIN
  UPDATE settings_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER settings_deleted AFTER DELETE ON settings BEGIN
  UPDATE settings_version SET version = version + 1 WHERE id = 1;
END;
