//! Postgres over TLS with the `STEM_TLS_*` settings, against the machine's
//! server (which serves TLS with its own self-signed certificate): the CA is
//! used to verify the server, a wrong CA is a clear error, and
//! `allow_insecure` encrypts without verifying.

use std::path::Path;
use std::process::Command;

use stem::Stem;
use stem_adapters::TlsOptions;
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TempDir, TestResult, postgres_url};

/// The server's own certificate, which the Debian package makes and serves.
const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

async fn connect(url: &str, schema: &str, tls: TlsOptions) -> stem::Result<PostgresStore> {
    PostgresStore::connect_with(PostgresOptions::new(url).with_schema(schema).with_tls(tls).with_max_connections(2))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verifies_the_server_with_the_given_ca() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    if !Path::new(SERVER_CERT).exists() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{SERVER_CERT} is missing under CI=true");
        eprintln!("skipped: {SERVER_CERT} is missing (the server's TLS certificate)");
        return Ok(());
    }
    let schema = format!("test_tls_{:08x}", fastrand::u32(..));
    let sep = if url.contains('?') { '&' } else { '?' };

    // The server's certificate as the CA: verified (verify-ca: the certificate
    // names the machine, not 127.0.0.1), and the store works.
    let verified = format!("{url}{sep}sslmode=verify-ca");
    let store = connect(&verified, &schema, TlsOptions::default().with_ca_cert(SERVER_CERT)).await?;
    let stem = Stem::new(store.stores());
    let handle = stem.handle::<()>(stem::TaskId::new());
    assert!(handle.status().await?.is_none(), "the store answers over TLS");

    // Another CA: the handshake fails, and the error says where to look.
    let dir = TempDir::new("pg-tls");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other-ca"])
        .args(["-keyout", "ca.key", "-out", "ca.crt"])
        .current_dir(dir.file(""))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(made, "openssl made a CA");
    let wrong = TlsOptions::default().with_ca_cert(dir.file("ca.crt"));
    let error = connect(&verified, &schema, wrong).await.expect_err("an unknown issuer");
    let message = error.to_string();
    assert!(message.contains("STEM_TLS_CA_CERT") && message.contains("STEM_TLS_ALLOW_INSECURE"), "{message}");

    // Skipping verification encrypts without checking (debugging only).
    connect(&url, &schema, TlsOptions::default().with_allow_insecure(true)).await?;

    // Half a client identity names itself.
    let half = TlsOptions { client_cert: Some(dir.file("ca.crt")), ..TlsOptions::default() };
    let message = connect(&url, &schema, half).await.expect_err("half an identity").to_string();
    assert!(message.contains("needs both STEM_TLS_CLIENT_CERT and STEM_TLS_CLIENT_KEY"), "{message}");

    store.drop_schema().await?;
    Ok(())
}
