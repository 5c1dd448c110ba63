//! The database file itself: its schema, its mode (0600, or 0640 for a `levee` group) and the
//! columns added since a table's first version (the audit table's, the incidents'
//! evidence), added when a writer opens an older file.

use super::*;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    victim TEXT NOT NULL,
    network TEXT NOT NULL,
    family TEXT NOT NULL,
    vector TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    peak_pps INTEGER NOT NULL,
    peak_bps INTEGER NOT NULL,
    confidence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_network ON incidents(network);
CREATE INDEX IF NOT EXISTS incidents_victim ON incidents(victim);
CREATE INDEX IF NOT EXISTS incidents_family ON incidents(family);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents(id) WHERE end_us IS NULL;
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_incident ON notes(incident);
CREATE TABLE IF NOT EXISTS mitigations (
    id INTEGER PRIMARY KEY,
    route TEXT NOT NULL,
    victim TEXT NOT NULL,
    network TEXT NOT NULL,
    level INTEGER,
    origin TEXT NOT NULL,
    incident INTEGER,
    holders TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    state TEXT NOT NULL,
    withdrawn_us INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS mitigations_state ON mitigations(state);
CREATE INDEX IF NOT EXISTS mitigations_incident ON mitigations(incident);
CREATE TABLE IF NOT EXISTS adapter_results (
    mitigation INTEGER NOT NULL,
    adapter TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (mitigation, adapter)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',
    keyed INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// Columns added to the audit table since its first version (added at open).
pub(super) const AUDIT_COLUMNS: [(&str, &str); 2] = [
    ("state", "TEXT NOT NULL DEFAULT ''"),
    ("keyed", "INTEGER NOT NULL DEFAULT 0"),
];

/// Whether the audit table has every column added since its first version.
pub(super) fn has_audit_columns(conn: &Connection) -> Result<bool, StoreError> {
    let mut q = conn.prepare("SELECT name FROM pragma_table_info('audit')")?;
    let have: Vec<String> = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(AUDIT_COLUMNS
        .iter()
        .all(|(name, _)| have.iter().any(|h| h == name)))
}

/// Columns added to the incidents table since its first version (added at open).
pub(super) const INCIDENT_COLUMNS: [(&str, &str); 1] = [("evidence", "TEXT")];

/// Whether `table` has a column named `column`.
pub(super) fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StoreError> {
    let mut q = conn.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?;
    Ok(q.exists(params![table, column])?)
}

/// Adds the columns of `table` (from a fixed list above) a database from an older levee
/// lacks; whether any was added.
fn add_columns(
    conn: &Connection,
    table: &str,
    columns: &[(&str, &str)],
) -> Result<bool, StoreError> {
    let mut added = false;
    for (name, decl) in columns {
        if !has_column(conn, table, name)? {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {decl}"))?;
            added = true;
        }
    }
    Ok(added)
}

/// Adds the audit columns a database from an older levee lacks.
pub(super) fn add_audit_columns(conn: &Connection) -> Result<bool, StoreError> {
    add_columns(conn, "audit", &AUDIT_COLUMNS)
}

/// Adds the incident columns a database from an older levee lacks.
pub(super) fn add_incident_columns(conn: &Connection) -> Result<bool, StoreError> {
    add_columns(conn, "incidents", &INCIDENT_COLUMNS)
}

/// Creates the database file if need be, with the store's mode, and sets that mode
/// (see the module overview); returns it.
pub(crate) fn restrict(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let gid = f.metadata()?.gid();
    let mode = if levee_gid() == Some(gid) {
        0o640
    } else {
        0o600
    };
    set_mode(path, mode)?;
    Ok(mode)
}

/// Sets a file's mode, if it exists.
pub(crate) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// The id of the group named `levee`, from /etc/group.
pub(super) fn levee_gid() -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == "levee").then_some(())?;
        f.nth(1)?.parse().ok()
    })
}
