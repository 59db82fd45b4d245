//! Signed envelopes on every store: what a signing producer publishes runs,
//! retries included;
//! an envelope tampered with below the API, or never signed, is dead-lettered
//! with `signature-invalid` and its key id and never runs; a rotation keeps the
//! old key accepted while it is listed and refuses it after; Ed25519 workers
//! verify with public keys only.

use std::sync::atomic::{AtomicU32, Ordering};

use stem::codec::Payload;
use stem::prelude::*;
use stem::signing::Signing;
use stem::{Error, TaskState};
use stem_tests::{TestResult, WAIT, every_store};

static RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task(queue = "signed", max_retries = 0)]
async fn guarded(n: u32) -> Result<u32, TaskError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(n)
}

/// Fails its first attempt: its retry, republished by the worker with a new
/// attempt and not-before time, must still verify.
#[stem::task(queue = "signed", max_retries = 2, retry_backoff = "5ms", retry_jitter = false)]
async fn again(ctx: TaskContext) -> Result<u32, TaskError> {
    if ctx.attempt() == 0 {
        return Err(TaskError::retry("once more"));
    }
    Ok(ctx.attempt())
}

/// The Ed25519 test's task (the counter above is the HMAC test's).
#[stem::task(queue = "signed-ed", max_retries = 0)]
async fn verified(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

fn hmac(keys: &[&str], active: &str) -> Signing {
    Signing::hmac(keys.iter().map(|id| (*id, format!("secret of {id}").into_bytes())), active).expect("keys")
}

/// The dead letter reason of a task that was refused.
async fn refused(stem: &Stem, id: stem::TaskId) -> String {
    match stem.handle::<u32>(id).wait_timeout(WAIT).await {
        Err(Error::TaskFailed(failure)) => {
            let error = failure.error.expect("an error");
            assert_eq!(error.kind, "signature_invalid");
            error.message
        }
        other => panic!("expected a refused task, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_envelopes_signed_with_an_accepted_key_run() -> TestResult {
    for env in every_store("signed").await {
        let label = env.label;
        RUNS.store(0, Ordering::SeqCst);
        let producer = env.stem.with_signing(hmac(&["v1"], "v1"));
        let worker =
            Worker::builder(&producer).task::<Guarded>().task::<Again>().handle_signals(false).build()?.spawn();
        assert_eq!(Guarded::enqueue(&producer, 7).await?.wait_timeout(WAIT).await?, 7, "{label}");
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        assert_eq!(Again::enqueue(&producer, ()).await?.wait_timeout(WAIT).await?, 1, "{label}: a retry verifies");

        // Tampered with below the API: signed, then its arguments changed.
        let mut tampered = Guarded::call(1).into_envelope()?;
        producer.signing().expect("signing").sign(&mut tampered)?;
        tampered.args = Payload::new("json", b"1000".to_vec());
        let tampered_id = tampered.id;
        producer.broker().publish(tampered).await?;
        let why = refused(&producer, tampered_id).await;
        assert!(why.contains("signature-invalid") && why.contains("`v1`") && why.contains("does not match"), "{why}");

        // Never signed: published straight to the broker.
        let unsigned = Guarded::call(2).into_envelope()?;
        let id = unsigned.id;
        producer.broker().publish(unsigned).await?;
        assert!(refused(&producer, id).await.contains("not signed"), "{label}");
        assert_eq!(RUNS.load(Ordering::SeqCst), 1, "{label}: nothing refused ran");
        // The status is written before the delivery is settled into the dead
        // letter queue: wait for both to land.
        let dead = stem_tests::until_ok("both dead letters", || async {
            let dead = producer.dead_letters().map_err(|e| e.to_string())?;
            let dead = dead.list_dead_letters("signed", 10, 0).await.map_err(|e| e.to_string())?.entries;
            if dead.len() == 2 { Ok(dead) } else { Err(format!("{} dead letters", dead.len())) }
        })
        .await;
        assert!(dead.iter().all(|d| d.reason.contains("signature-invalid")), "{label}: {dead:?}");
        let tampered = dead.iter().find(|d| d.envelope.id == tampered_id).expect("the tampered one's dead letter");
        assert!(tampered.reason.contains("`v1`"), "{label}: the dead letter names the key id: {}", tampered.reason);
        worker.stop(ShutdownMode::Warm).await?;

        // A rotation: producers still on v0 while workers accept v0 and v1.
        let old_producer = env.stem.with_signing(hmac(&["v0"], "v0"));
        let rotating = env.stem.with_signing(hmac(&["v0", "v1"], "v1"));
        let worker = Worker::builder(&rotating).task::<Guarded>().handle_signals(false).build()?.spawn();
        assert_eq!(Guarded::enqueue(&old_producer, 3).await?.wait_timeout(WAIT).await?, 3, "{label}: v0 still listed");
        worker.stop(ShutdownMode::Warm).await?;
        let rotated = env.stem.with_signing(hmac(&["v1"], "v1"));
        let worker = Worker::builder(&rotated).task::<Guarded>().handle_signals(false).build()?.spawn();
        let late = Guarded::enqueue(&old_producer, 4).await?;
        let why = refused(&rotated, late.id()).await;
        assert!(why.contains("`v0` is not among the accepted keys"), "{label}: {why}");
        assert_eq!(late.status().await?.map(|s| s.state), Some(TaskState::Failed), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_workers_verify_with_public_keys_only() -> TestResult {
    let secret = [7u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key().to_bytes().to_vec();
    for env in every_store("signed-ed").await {
        let label = env.label;
        let producer =
            env.stem.with_signing(Signing::ed25519([("p1", public.clone())], [("p1", secret.to_vec())], Some("p1"))?);
        let verifier = Signing::ed25519([("p1", public.clone())], Vec::<(&str, Vec<u8>)>::new(), None)?;
        assert!(!verifier.signs());
        let worker_stem = env.stem.with_signing(verifier);
        let worker = Worker::builder(&worker_stem).task::<Verified>().handle_signals(false).build()?.spawn();
        assert_eq!(Verified::enqueue(&producer, 9).await?.wait_timeout(WAIT).await?, 9, "{label}");
        let mut tampered = Verified::call(1).into_envelope()?;
        producer.signing().expect("signing").sign(&mut tampered)?;
        tampered.task = "something.else".into();
        let id = tampered.id;
        producer.broker().publish(tampered).await?;
        assert!(refused(&worker_stem, id).await.contains("`p1`"), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// Every signing variable, to check that an error names only the one at fault.
const VARIABLES: [&str; 5] = [
    "STEM_SIGNING_ALGORITHM",
    "STEM_SIGNING_KEYS",
    "STEM_SIGNING_PUBLIC_KEYS",
    "STEM_SIGNING_PRIVATE_KEYS",
    "STEM_SIGNING_ACTIVE_KEY",
];

/// The Ed25519 key pair of the secret `[7; 32]`, in base64.
const ED_SECRET: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const ED_PUBLIC: &str = "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";
/// 31 and 16 bytes: no Ed25519 key.
const BYTES_31: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==";
const BYTES_16: &str = "BwcHBwcHBwcHBwcHBwcHBw==";
/// The secret `[9; 32]`: a valid key, but not the one of [`ED_PUBLIC`].
const OTHER_SECRET: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

/// Signing variables by name.
type Vars = Vec<(&'static str, String)>;

fn from_pairs(pairs: &[(&str, String)]) -> stem::Result<Option<Signing>> {
    Signing::from_vars(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
}

#[test]
fn misconfigurations_name_the_one_variable_at_fault() {
    assert!(from_pairs(&[]).expect("no signing").is_none());
    let ed = |public: &str, private: Option<&str>, active: Option<&str>| {
        let mut pairs =
            vec![("STEM_SIGNING_ALGORITHM", "ed25519".to_owned()), ("STEM_SIGNING_PUBLIC_KEYS", public.to_owned())];
        pairs.extend(private.map(|p| ("STEM_SIGNING_PRIVATE_KEYS", p.to_owned())));
        pairs.extend(active.map(|a| ("STEM_SIGNING_ACTIVE_KEY", a.to_owned())));
        pairs
    };
    let hmac = |keys: &str, active: Option<&str>| {
        let mut pairs = vec![("STEM_SIGNING_KEYS", keys.to_owned())];
        pairs.extend(active.map(|a| ("STEM_SIGNING_ACTIVE_KEY", a.to_owned())));
        pairs
    };
    let p1 = format!("p1:{ED_PUBLIC}");
    let s1 = format!("p1:{ED_SECRET}");
    // The variables, the one an error must name, and what it must say.
    let cases: Vec<(Vars, &str, &str)> = vec![
        (hmac("v1:c2VjcmV0", None), "STEM_SIGNING_ACTIVE_KEY", "is not set"),
        (hmac("v1:c2VjcmV0", Some("v2")), "STEM_SIGNING_ACTIVE_KEY", "`v2` is not among the keys"),
        (hmac("v1:not base64!", Some("v1")), "STEM_SIGNING_KEYS", "the key of `v1` is not base64"),
        (
            vec![("STEM_SIGNING_ALGORITHM", "rot13".to_owned()), ("STEM_SIGNING_KEYS", "v1:c2VjcmV0".to_owned())],
            "STEM_SIGNING_ALGORITHM",
            "`rot13`",
        ),
        // Ed25519: a public key of the wrong length.
        (ed(&format!("p0:{BYTES_31}"), None, None), "STEM_SIGNING_PUBLIC_KEYS", "public key `p0`: 31 bytes, not 32"),
        (
            ed(&format!("p1:{ED_PUBLIC},p2:{BYTES_16}"), Some(&s1), Some("p1")),
            "STEM_SIGNING_PUBLIC_KEYS",
            "`p2`: 16 bytes",
        ),
        // A private key of the wrong length, or of another public key.
        (
            ed(&p1, Some(&format!("p1:{BYTES_31}")), Some("p1")),
            "STEM_SIGNING_PRIVATE_KEYS",
            "private key `p1`: 31 bytes, not 32",
        ),
        (ed(&p1, Some(&format!("p1:{OTHER_SECRET}")), Some("p1")), "STEM_SIGNING_PRIVATE_KEYS", "does not belong"),
        (ed(&p1, Some("p1:*"), Some("p1")), "STEM_SIGNING_PRIVATE_KEYS", "not base64"),
        // The active key: not listed, listed without a private key, or not set.
        (ed(&p1, Some(&s1), Some("p9")), "STEM_SIGNING_ACTIVE_KEY", "`p9` is not among the keys"),
        (
            ed(&format!("{p1},p2:{ED_PUBLIC}"), Some(&s1), Some("p2")),
            "STEM_SIGNING_ACTIVE_KEY",
            "`p2` has no private key",
        ),
        (ed(&p1, Some(&s1), None), "STEM_SIGNING_ACTIVE_KEY", "is not set"),
    ];
    for (pairs, variable, why) in cases {
        let error = from_pairs(&pairs).expect_err("refused").to_string();
        assert!(error.contains(variable) && error.contains(why), "{pairs:?}: {error}");
        for other in VARIABLES.iter().filter(|v| **v != variable) {
            assert!(!error.contains(other), "{pairs:?}: names {other} too: {error}");
        }
        for (_, value) in &pairs {
            for key in value.split(',').filter_map(|entry| entry.split_once(':')).map(|(_, key)| key) {
                assert!(key.len() < 8 || !error.contains(key), "no key material in errors: {error}");
            }
        }
    }
    let signing = from_pairs(&hmac("v1:c2VjcmV0", Some("v1"))).expect("valid").expect("signing");
    assert!(!format!("{signing:?}").contains("c2VjcmV0") && format!("{signing:?}").contains("v1"));

    // A valid Ed25519 configuration signs what the public key verifies; a
    // verifying worker's (public keys only) needs no active key.
    let producer = from_pairs(&ed(&p1, Some(&s1), Some("p1"))).expect("valid").expect("signing");
    let verifier = from_pairs(&ed(&p1, None, Some("p1"))).expect("valid").expect("signing");
    assert!(producer.signs() && !verifier.signs());
    let public = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes().to_vec();
    let by_hand = Signing::ed25519([("p1", public)], Vec::<(&str, Vec<u8>)>::new(), None).expect("a public key");
    let mut envelope = Guarded::call(1).into_envelope().expect("an envelope");
    producer.sign(&mut envelope).expect("signed");
    assert_eq!(verifier.verify(&envelope), Ok(()));
    assert_eq!(by_hand.verify(&envelope), Ok(()), "ED_PUBLIC is the public key of ED_SECRET");
}
