//! `rediss://` with a custom CA and a client certificate (mutual TLS), against
//! a TLS-only `redis-server` of the test's own; a missing or wrong setting is a
//! clear error, and `allow_insecure` skips verification.

use std::path::Path;
use std::process::Command;

use stem::prelude::*;
use stem_adapters::TlsOptions;
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{RedisCluster, RedisServer, TempDir, TestResult, WAIT};

#[stem::task]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

/// Runs `openssl` with `args` in `dir`; false if it cannot run.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl").args(args).current_dir(dir).output().is_ok_and(|o| o.status.success())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn certificates(dir: &Path) -> bool {
    let days = ["-days", "2"];
    // Extensions make version 3 certificates, the only version rustls accepts.
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").is_ok()
        && std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").is_ok()
        && openssl(
            dir,
            &[
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-subj",
                    "/CN=stem-test-ca",
                ][..],
                &days,
            ]
            .concat(),
        )
        && ["server", "client"].iter().all(|name| {
            let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
            let subject = format!("/CN={name}");
            let mut sign =
                vec!["x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", &crt];
            let ext = format!("{name}.ext");
            sign.extend(days);
            sign.extend(["-extfile", &ext]);
            openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject])
                && openssl(dir, &sign)
        })
}

/// The certificates of `certificates` in a new directory, or `None` (the
/// test skips, saying why) if openssl cannot make them, except under `CI=true`.
fn made_certificates() -> Option<TempDir> {
    let dir = TempDir::new("redis-tls");
    if !certificates(&dir.file("")) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "openssl could not make test certificates under CI=true");
        eprintln!("skipped: openssl could not make test certificates");
        return None;
    }
    Some(dir)
}

/// The server arguments for TLS with the certificates in `dir`, client certificates required.
fn server_tls(dir: &TempDir) -> Vec<String> {
    let file = |name: &str| dir.file(name).display().to_string();
    ["--tls-cert-file", &file("server.crt"), "--tls-key-file", &file("server.key")]
        .into_iter()
        .chain(["--tls-ca-cert-file", &file("ca.crt"), "--tls-auth-clients", "yes"])
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_and_a_client_certificate() -> TestResult {
    let Some(dir) = made_certificates() else { return Ok(()) };
    let certs = dir.file("");
    let file = |name: &str| certs.join(name).display().to_string();
    let args = server_tls(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(server) = RedisServer::start(&dir, 0, true, &args) else { return Ok(()) };
    let url = format!("rediss://127.0.0.1:{}", server.port());
    let connect = |tls: TlsOptions| RedisStore::connect_with(RedisOptions::new(&url).with_tls(tls));
    let client = TlsOptions::default().with_client(file("client.crt"), file("client.key"));

    // The full round trip, through a worker, over mutual TLS.
    let store = connect(client.clone().with_ca_cert(file("ca.crt"))).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    let handle = Echo::enqueue(&stem, "over TLS".to_owned()).await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, "over TLS");
    worker.stop(ShutdownMode::Warm).await?;

    // The server's certificate is not trusted without the CA: a clear error.
    let error = connect(client.clone()).await.expect_err("an unknown issuer");
    let message = error.to_string();
    assert!(message.contains("STEM_TLS_CA_CERT") && message.contains("STEM_TLS_ALLOW_INSECURE"), "{message}");
    // Skipping verification connects anyway (debugging only).
    connect(client.clone().with_allow_insecure(true)).await?.backend();

    // The server asks for a client certificate.
    let no_client = TlsOptions::default().with_ca_cert(file("ca.crt"));
    assert!(connect(no_client).await.is_err(), "mutual TLS refuses a client without a certificate");

    // Half a client identity, or a missing file, names itself.
    let half = TlsOptions { client_cert: Some(file("client.crt").into()), ..TlsOptions::default() };
    let message = connect(half).await.expect_err("half an identity").to_string();
    assert!(message.contains("needs both STEM_TLS_CLIENT_CERT and STEM_TLS_CLIENT_KEY"), "{message}");
    let missing = TlsOptions::default().with_ca_cert(file("nope.crt"));
    let message = connect(missing).await.expect_err("a missing file").to_string();
    assert!(message.contains("nope.crt"), "{message}");
    // TLS settings on a plain URL are a mistake, said so.
    let plain = RedisStore::connect_with(RedisOptions::new("redis://127.0.0.1:1").with_tls(client)).await;
    assert!(plain.expect_err("not rediss").to_string().contains("use rediss://"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_mutual_tls() -> TestResult {
    let Some(dir) = made_certificates() else { return Ok(()) };
    let file = |name: &str| dir.file(name).display().to_string();
    let mut args = server_tls(&dir);
    args.extend(["--tls-cluster", "yes"].map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ca, cert, key) = (file("ca.crt"), file("client.crt"), file("client.key"));
    let cli = ["--tls", "--cacert", &ca, "--cert", &cert, "--key", &key];
    let Some(cluster) = RedisCluster::start_with(true, &args, &cli) else { return Ok(()) };
    let tls = TlsOptions::default().with_client(file("client.crt"), file("client.key")).with_ca_cert(file("ca.crt"));
    let store = RedisStore::connect_with(RedisOptions::cluster(cluster.urls()).with_tls(tls)).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    let handle = Echo::enqueue(&stem, "over TLS to a cluster".to_owned()).await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, "over TLS to a cluster");
    worker.stop(ShutdownMode::Warm).await?;

    // Without the CA the nodes' certificates are not trusted: a clear error.
    let untrusted = TlsOptions::default().with_client(file("client.crt"), file("client.key"));
    let error = RedisStore::connect_with(RedisOptions::cluster(cluster.urls()).with_tls(untrusted)).await;
    let message = error.expect_err("an unknown issuer").to_string();
    assert!(message.contains("Redis Cluster") && message.contains("STEM_TLS_CA_CERT"), "{message}");
    Ok(())
}
