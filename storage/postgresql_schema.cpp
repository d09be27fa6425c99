#include "storage/postgresql_schema.hpp"

#include "storage/postgresql.hpp"

#include <charconv>

namespace kinto::storage {

namespace {

// The storage schema, version 26. Ids, parents and resource names are URLs
// and names, not prose: the C collation lets their indexes serve prefix
// matches (parent_id LIKE '/buckets/b/%'). Timestamps are TIMESTAMP
// columns; as_epoch() and from_epoch() convert to and from the API's
// milliseconds since the epoch (in a session whose time zone is UTC).
//
// The trigger gives a row its last_modified when the writer sends none, or
// sends the list's current one: one millisecond past the list's newest, or
// the clock when that is later. Upstream Kinto processes rely on it; kintod
// sends its own timestamps, already past the list's newest, which it keeps.
const char* const storage_schema = R"sql(
SET LOCAL client_min_messages TO ERROR;

CREATE OR REPLACE FUNCTION as_epoch(ts TIMESTAMP) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE AS $body$
BEGIN
  RETURN (EXTRACT(EPOCH FROM ts) * 1000)::BIGINT;
END;
$body$;

CREATE OR REPLACE FUNCTION from_epoch(epoch BIGINT) RETURNS TIMESTAMP
LANGUAGE plpgsql IMMUTABLE AS $body$
BEGIN
  RETURN TIMESTAMP WITH TIME ZONE 'epoch' + epoch * INTERVAL '1 millisecond';
END;
$body$;

CREATE TABLE IF NOT EXISTS objects (
  id            TEXT COLLATE "C" NOT NULL,
  parent_id     TEXT COLLATE "C" NOT NULL,
  resource_name TEXT COLLATE "C" NOT NULL,
  last_modified TIMESTAMP NOT NULL,
  data          JSONB NOT NULL DEFAULT '{}'::JSONB,
  deleted       BOOLEAN NOT NULL,
  PRIMARY KEY (id, parent_id, resource_name)
);

-- One timestamp per list: the change index, newest first.
CREATE UNIQUE INDEX IF NOT EXISTS idx_objects_parent_id_resource_name_last_modified
  ON objects (parent_id, resource_name, last_modified DESC);
CREATE INDEX IF NOT EXISTS idx_objects_last_modified_epoch
  ON objects (as_epoch(last_modified));
CREATE INDEX IF NOT EXISTS idx_objects_resource_name_parent_id_deleted
  ON objects (resource_name, parent_id, deleted);
-- The timestamps of collections, from their records.
CREATE INDEX IF NOT EXISTS idx_objects_parent_id_record_last_modified
  ON objects (parent_id, last_modified DESC) WHERE resource_name = 'record';
-- Trimming the history plugin's entries.
CREATE INDEX IF NOT EXISTS idx_objects_history_userid_and_resourcename
  ON objects ((data -> 'user_id'), (data -> 'resource_name')) WHERE resource_name = 'history';

-- The timestamp a list keeps when its objects are gone.
CREATE TABLE IF NOT EXISTS timestamps (
  parent_id     TEXT NOT NULL COLLATE "C",
  resource_name TEXT NOT NULL COLLATE "C",
  last_modified TIMESTAMP NOT NULL,
  PRIMARY KEY (parent_id, resource_name)
);

CREATE OR REPLACE FUNCTION bump_timestamp() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
  newest BIGINT;
  stamp BIGINT;
BEGIN
  SELECT as_epoch(MAX(ts)) INTO newest FROM (
    (SELECT last_modified AS ts FROM objects
      WHERE parent_id = NEW.parent_id AND resource_name = NEW.resource_name
      ORDER BY last_modified DESC LIMIT 1)
    UNION
    (SELECT last_modified AS ts FROM timestamps
      WHERE parent_id = NEW.parent_id AND resource_name = NEW.resource_name)
  ) AS list_stamps;

  stamp := as_epoch(clock_timestamp()::TIMESTAMP);
  IF newest IS NOT NULL AND newest >= stamp THEN
    stamp := newest + 1;
  END IF;

  IF NEW.last_modified IS NULL OR (newest IS NOT NULL AND as_epoch(NEW.last_modified) = newest) THEN
    NEW.last_modified := from_epoch(stamp);
  END IF;
  RETURN NEW;
END;
$body$;

DROP TRIGGER IF EXISTS tgr_objects_last_modified ON objects;
CREATE TRIGGER tgr_objects_last_modified
  BEFORE INSERT OR UPDATE OF data ON objects
  FOR EACH ROW EXECUTE PROCEDURE bump_timestamp();

CREATE TABLE IF NOT EXISTS metadata (
  name  VARCHAR(128) NOT NULL,
  value VARCHAR(512) NOT NULL
);
INSERT INTO metadata (name, value) VALUES ('created_at', NOW()::TEXT);
INSERT INTO metadata (name, value) VALUES ('storage_schema_version', '26');
)sql";

// The permission schema, version 2: who holds which permission on which
// object, and which principals (groups) each user has.
const char* const permission_schema = R"sql(
SET LOCAL client_min_messages TO ERROR;

CREATE TABLE IF NOT EXISTS user_principals (
  user_id   TEXT COLLATE "C",
  principal TEXT,
  PRIMARY KEY (user_id, principal)
);

CREATE TABLE IF NOT EXISTS access_control_entries (
  object_id  TEXT COLLATE "C",
  permission TEXT,
  principal  TEXT,
  PRIMARY KEY (object_id, permission, principal)
);
CREATE INDEX IF NOT EXISTS idx_access_control_entries_object_id ON access_control_entries (object_id);
CREATE INDEX IF NOT EXISTS idx_access_control_entries_permission ON access_control_entries (permission);
CREATE INDEX IF NOT EXISTS idx_access_control_entries_principal ON access_control_entries (principal);

CREATE TABLE IF NOT EXISTS metadata (
  name  VARCHAR(128) NOT NULL,
  value VARCHAR(512) NOT NULL
);
INSERT INTO metadata (name, value) VALUES ('permission_schema_version', '2');
)sql";

// Permission schema 1 to 2: ids in the C collation, and the version row.
const char* const permission_1_to_2 = R"sql(
SET LOCAL client_min_messages TO ERROR;
CREATE TABLE IF NOT EXISTS metadata (
  name  VARCHAR(128) NOT NULL,
  value VARCHAR(512) NOT NULL
);
ALTER TABLE user_principals ALTER COLUMN user_id TYPE TEXT COLLATE "C";
ALTER TABLE access_control_entries ALTER COLUMN object_id TYPE TEXT COLLATE "C";
INSERT INTO metadata (name, value) VALUES ('permission_schema_version', '2');
)sql";

bool table_exists(pg::connection& c, const std::string& name, bool& exists, std::string& error) {
  auto r = c.run("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
                 {name});
  if (!r.ok()) return error = r.error(), false;
  exists = r.rows() > 0;
  return true;
}

struct schema_kind {
  const char* name;         ///< "storage", "permission"
  const char* marker;       ///< a table only this schema has
  const char* old_marker;   ///< the table that stood for it in early versions, or null
  const char* version_name; ///< its metadata row
  int versionless;          ///< the version of a schema without that row (0: unknown, older than any)
  int version;              ///< this build's
  const char* create;       ///< the statements that create it
};

const schema_kind storage_kind{
    "storage", "objects", "records", "storage_schema_version", 0, postgresql_storage_schema_version, storage_schema};
// Permission tables without a version row are version 1, the only one
// before versions were recorded.
const schema_kind permission_kind{"permission",
                                  "access_control_entries",
                                  nullptr,
                                  "permission_schema_version",
                                  1,
                                  postgresql_permission_schema_version,
                                  permission_schema};

/// The installed version of one schema: the highest value of its metadata
/// row (each migration adds one); nullopt when its tables are not there.
bool installed_version(pg::connection& c, const schema_kind& kind, std::optional<int>& version, std::string& error) {
  version.reset();
  bool marker_exists = false, old_marker_exists = false, metadata_exists = false;
  if (!table_exists(c, kind.marker, marker_exists, error) || !table_exists(c, "metadata", metadata_exists, error) ||
      (kind.old_marker && !table_exists(c, kind.old_marker, old_marker_exists, error)))
    return false;
  if (!marker_exists && !old_marker_exists) return true;
  version = kind.versionless;
  if (!metadata_exists) return true;
  auto r = c.run("SELECT value FROM metadata WHERE name = $1", {std::string(kind.version_name)});
  if (!r.ok()) return error = r.error(), false;
  if (r.rows() > 0) version = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const auto text = r.text(i, 0);
    int v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      return error = std::string("metadata ") + kind.version_name + " is not a number: '" + std::string(text) + "'",
             false;
    if (v > *version) version = v;
  }
  return true;
}

/// Runs `sql` in one transaction.
bool run_transaction(pg::connection& c, const std::string& sql, std::string& error) {
  auto r = c.run("BEGIN;\n" + sql + "\nCOMMIT;");
  if (r.ok()) return true;
  error = r.error();
  (void)c.run("ROLLBACK");
  return false;
}

bool migrate_one(const schema_kind& kind, const std::string& url, const postgresql_migration& m, std::string& error) {
  const std::string name = std::string("PostgreSQL ") + kind.name + " schema";
  auto say = [&](const std::string& line) {
    if (m.log) m.log(name + ": " + line);
  };
  auto c = pg::connection::open(url, error);
  if (!c) return error = kind.name + std::string(" database: ") + error, false;
  std::optional<int> version;
  if (!installed_version(*c, kind, version, error)) return false;
  const std::string target = std::to_string(kind.version);
  if (!version) {
    say(std::string(m.dry_run ? "would be created" : "creating") + " at version " + target);
    if (m.dry_run) return true;
    if (!run_transaction(*c, kind.create, error)) return error = name + ": " + error, false;
    say("created (version " + target + ")");
    return true;
  }
  if (*version == kind.version) {
    say("version " + target + ", up to date");
    return true;
  }
  if (*version > kind.version)
    return error = name + " is at version " + std::to_string(*version) + ", newer than this kintod's (" + target +
                   "): run a kintod that knows it",
           false;
  if (&kind == &permission_kind && *version == 1) {
    say(std::string(m.dry_run ? "would be migrated" : "migrating") + " from version 1 to 2");
    if (m.dry_run) return true;
    if (!run_transaction(*c, permission_1_to_2, error)) return error = name + ": " + error, false;
    say("migrated to version 2");
    return true;
  }
  return error = name + " is at version " + std::to_string(*version) + ": kintod upgrades none older than " + target +
                 "; upgrade it with upstream Kinto's `kinto migrate` first",
         false;
}

} // namespace

bool migrate_postgresql(const postgresql_migration& m, std::string& error) {
  return migrate_one(storage_kind, m.storage_url, m, error) && migrate_one(permission_kind, m.permission_url, m, error);
}

bool postgresql_schema_version(const std::string& url, bool permission, std::optional<int>& version,
                               std::string& error) {
  const schema_kind& kind = permission ? permission_kind : storage_kind;
  auto c = pg::connection::open(url, error);
  if (!c) return false;
  return installed_version(*c, kind, version, error);
}

} // namespace kinto::storage
