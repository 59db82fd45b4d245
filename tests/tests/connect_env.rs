//! `connect_env` reads `STEM_BROKER_URL` and `STEM_RESULT_BACKEND_URL`, and with
//! neither set uses `stem.db` in the working directory; it signs and verifies
//! with the `STEM_SIGNING_*` variables, and refuses a wrong one by its name.
//! Each case runs a child process, so that the environment is its own.

use std::process::Command;

use stem_tests::{TempDir, TestResult};

/// The signing variables, cleared unless a case sets them.
const SIGNING_VARS: [&str; 5] = [
    "STEM_SIGNING_ALGORITHM",
    "STEM_SIGNING_KEYS",
    "STEM_SIGNING_PUBLIC_KEYS",
    "STEM_SIGNING_PRIVATE_KEYS",
    "STEM_SIGNING_ACTIVE_KEY",
];

fn probe(dir: &TempDir, env: &[(&str, String)]) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_env_probe"));
    command.current_dir(dir.file("")).env_remove("STEM_BROKER_URL").env_remove("STEM_RESULT_BACKEND_URL");
    for name in SIGNING_VARS {
        command.env_remove(name);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output()?;
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(output.status.success(), "the probe failed:\n{stdout}\n{stderr}");
    Ok(stdout)
}

#[test]
fn with_nothing_set_the_default_is_stem_db_in_the_working_directory() -> TestResult {
    let dir = TempDir::new("env-default");
    let out = probe(&dir, &[])?;
    assert!(out.contains("broker=sqlite://stem.db\nbackend=sqlite://stem.db\n"), "{out}");
    assert!(out.contains("result=7"), "{out}");
    assert!(dir.file("stem.db").is_file(), "stem.db was created in the working directory");
    Ok(())
}

#[test]
fn the_backend_defaults_to_the_broker_url_and_can_differ() -> TestResult {
    let dir = TempDir::new("env-urls");
    let broker = format!("sqlite://{}", dir.file("jobs.db").display());
    let out = probe(&dir, &[("STEM_BROKER_URL", broker.clone())])?;
    assert!(out.contains(&format!("backend={broker}\n")), "{out}");
    assert!(out.contains("result=7"), "{out}");

    let backend = format!("sqlite://{}", dir.file("results.db").display());
    let out = probe(&dir, &[("STEM_BROKER_URL", broker), ("STEM_RESULT_BACKEND_URL", backend.clone())])?;
    assert!(out.contains(&format!("backend={backend}\n")), "{out}");
    assert!(dir.file("results.db").is_file());
    assert!(!dir.file("stem.db").exists(), "the default file is not touched when URLs are set");
    Ok(())
}

#[test]
fn a_bad_url_in_the_environment_fails_with_its_name() -> TestResult {
    let dir = TempDir::new("env-bad");
    let output = Command::new(env!("CARGO_BIN_EXE_env_probe"))
        .current_dir(dir.file(""))
        .env("STEM_BROKER_URL", "kafka://localhost:9092")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("unknown URL scheme `kafka://`"), "{stderr}");
    Ok(())
}

#[test]
fn signing_comes_from_the_stem_signing_variables() -> TestResult {
    let dir = TempDir::new("env-signing");
    let out = probe(&dir, &[])?;
    assert!(out.contains("signs=false verifies=false"), "{out}");
    let keys = [("STEM_SIGNING_KEYS", "v1:c2VjcmV0IG9mIHYx".to_owned()), ("STEM_SIGNING_ACTIVE_KEY", "v1".to_owned())];
    // Signed by the probe's Stem and verified by its worker: the task runs.
    let out = probe(&dir, &keys)?;
    assert!(out.contains("signs=true verifies=true") && out.contains("result=7"), "{out}");

    let output = Command::new(env!("CARGO_BIN_EXE_env_probe"))
        .current_dir(dir.file(""))
        .env_remove("STEM_BROKER_URL")
        .env_remove("STEM_RESULT_BACKEND_URL")
        .env("STEM_SIGNING_ALGORITHM", "ed25519")
        .env("STEM_SIGNING_PUBLIC_KEYS", "p1:c2hvcnQ=")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("STEM_SIGNING_PUBLIC_KEYS: public key `p1`: 5 bytes, not 32"), "{stderr}");
    Ok(())
}
