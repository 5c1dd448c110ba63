//! The database file itself: its schema, its mode (0600, or 0640 for a `levee` group) and the
//! audit table's columns added since its first version.

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

/// Adds the audit columns a database from an older levee lacks.
pub(super) fn add_audit_columns(conn: &Connection) -> Result<bool, StoreError> {
    let have: Vec<String> = {
        let mut q = conn.prepare("SELECT name FROM pragma_table_info('audit')")?;
        q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let mut added = false;
    for (name, decl) in AUDIT_COLUMNS {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!("ALTER TABLE audit ADD COLUMN {name} {decl}"))?;
            added = true;
        }
    }
    Ok(added)
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
