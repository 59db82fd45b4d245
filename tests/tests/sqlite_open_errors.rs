//! Opening a SQLite file that cannot serve names the file and the fix; a
//! new file opened by several processes at once opens for all of them.

use std::time::Duration;

use stem_adapters::sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore};
use stem_tests::TempDir;

async fn open_error(options: SqliteOptions) -> String {
    match SqliteStore::open_with(options).await {
        Ok(_) => panic!("the open should have failed"),
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            message
        }
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_named_as_corrupt() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("stem.db");
    std::fs::write(&path, vec![0x42u8; 8192]).expect("write garbage");
    let message = open_error(SqliteOptions::new(&path)).await;
    assert!(message.contains("is not a SQLite database or is corrupt"), "{message}");
    assert!(message.contains(&path.display().to_string()), "names the file: {message}");
    assert_eq!(std::fs::read(&path).expect("read"), vec![0x42u8; 8192], "the file is left as it was");
}

#[tokio::test]
async fn a_missing_directory_is_named() {
    let dir = TempDir::new("missing-dir");
    let message = open_error(SqliteOptions::new(dir.file("nope/stem.db"))).await;
    assert!(message.contains("does not exist; create it or choose another path"), "{message}");
}

#[tokio::test]
async fn a_directory_is_not_a_file() {
    let dir = TempDir::new("is-dir");
    std::fs::create_dir(dir.file("stem.db")).expect("mkdir");
    let message = open_error(SqliteOptions::new(dir.file("stem.db"))).await;
    assert!(message.contains("is a directory"), "{message}");
}

#[tokio::test]
async fn a_file_locked_by_another_process_says_so() {
    let dir = TempDir::new("locked");
    let path = dir.file("stem.db");
    let holder = rusqlite::Connection::open(&path).expect("open");
    holder.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").expect("lock");
    let message = open_error(SqliteOptions::new(&path).with_busy_timeout(Duration::from_millis(100))).await;
    assert!(message.contains("is locked by another process"), "{message}");
    holder.execute_batch("COMMIT").expect("unlock");
    SqliteStore::open(&path).await.expect("opens once the lock is gone");
}

/// Switching a new file to WAL and migrating it while another connection
/// does the same can meet a lock that SQLite reports at once rather than
/// after the busy timeout: each open must still succeed (a worker and a
/// shell `enqueue` started together on a fresh file both work).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_file_opened_by_several_at_once_opens_for_all() {
    let dir = TempDir::new("together");
    for round in 0..50 {
        let path = dir.file(&format!("stem-{round}.db"));
        let opens = (0..6).map(|_| tokio::spawn(SqliteStore::open(path.clone())));
        for open in futures_util::future::join_all(opens).await {
            open.expect("joined").unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_not_damaged() {
    let dir = TempDir::new("newer");
    let path = dir.file("stem.db");
    drop(SqliteStore::open(&path).await.expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("open");
    let newer = SCHEMA_VERSION + 1;
    conn.pragma_update(None, "user_version", newer).expect("bump");
    let message = open_error(SqliteOptions::new(&path)).await;
    assert!(message.contains(&format!("schema version {newer}, newer than this Stem knows")), "{message}");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("read");
    assert_eq!(version, newer, "the file was not touched");
}

#[tokio::test]
async fn bad_urls_name_themselves() {
    let message = stem_adapters::connect("mongodb://localhost").await.expect_err("unknown").to_string();
    assert!(message.contains("unknown URL scheme `mongodb://`") && message.contains("sqlite://"), "{message}");
    let message = stem_adapters::connect("sqlite://x.db?synchronous=maybe").await.expect_err("bad").to_string();
    assert!(message.contains("synchronous=maybe"), "{message}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("sqlite-mode");
    let path = dir.file("private.db");
    let _store = SqliteStore::open(&path).await.expect("open a new file");
    for file in [path.clone(), dir.file("private.db-wal")] {
        let mode = std::fs::metadata(&file).expect("the file exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
}
