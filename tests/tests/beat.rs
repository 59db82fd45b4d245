//! The Beat scheduler, on every store: three schedulers driven by a fake
//! clock through 1,000 ticks enqueue each due fire exactly once; a fire
//! claimed twice is one task; missed fires are caught up (the latest 100 at
//! most) or skipped as the schedule says; a late fire records its lateness
//! as drift; jitter delays a fire's task by up to its bound and no more; a
//! cron fire on a daylight-saving day fires once; a schedule whose task is
//! not linked records the error; what a schedule fires runs, with the
//! default arguments of a task that declares its schedule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use stem::beat::{CatchUp, Schedule, ScheduleEntry, Scheduler};
use stem::broker::{Broadcast, DeadLetters, Delivery, Nack, QueueStats, Receipt, ReceiveRequest};
use stem::prelude::*;
use stem::testing::FakeClock;
use stem::{Broker, Envelope, Registry, Stem};
use stem_tests::{TestResult, every_store};

#[stem::task(queue = "beat")]
async fn tick_task(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

/// The options of [`digest_task`], with defaults of their own.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Digest {
    days: u32,
}

impl Default for Digest {
    fn default() -> Self {
        Self { days: 7 }
    }
}

#[stem::task(queue = "beat", schedule = "every 1s")]
async fn digest_task(digest: Digest, only: Option<String>) -> Result<u32, TaskError> {
    Ok(digest.days + only.map_or(0, |_| 100))
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

/// An entry of `schedule` firing `TickTask`, counted from `t0`.
fn entry(id: &str, schedule: &str, t0: DateTime<Utc>) -> ScheduleEntry {
    let schedule: Schedule = schedule.parse().expect(schedule);
    let mut e = ScheduleEntry::of_task(id, <TickTask as Task>::NAME, serde_json::json!(7), schedule);
    e.created_at = t0;
    e.next_fire = e.fire_after(t0);
    e
}

fn registry() -> Registry {
    Registry::new().register::<TickTask>()
}

async fn pending(stem: &Stem) -> usize {
    stem.queue_stats().expect("stats").pending_count("beat").await.expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_schedulers_through_a_thousand_ticks_enqueue_each_fire_once() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    for env in every_store("beat-three").await {
        let label = env.label;
        let clock = std::sync::Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.stores().schedules();
        store.put(&entry("ten", "every 10s", t0)).await?;
        store.put(&entry("minute", "cron: * * * * *", t0)).await?;
        store.put(&entry("once", "at: 2026-12-07T00:08:20Z", t0)).await?;
        store.put(&entry("seven", "every 7s from 2026-12-07T00:00:03Z", t0)).await?;
        store.put(&entry("off", "every 1s", t0).enabled(false)).await?;
        let schedulers: Vec<Scheduler> = (0..3).map(|_| Scheduler::with_registry(&stem, registry())).collect();
        let (mut claimed, mut lost) = (0, 0);
        for _ in 0..1000 {
            clock.advance(Duration::from_secs(1));
            let ticks = futures_util::future::join_all(schedulers.iter().map(Scheduler::tick)).await;
            for tick in ticks {
                let (tick, _) = tick?;
                assert_eq!(tick.failed, 0, "{label}");
                (claimed, lost) = (claimed + tick.claimed, lost + tick.lost);
            }
        }
        // every 10 s: 100; every minute: 16; once: 1; every 7 s from 3 s: 143.
        assert_eq!(pending(&stem).await, 260, "{label}: each fire enqueued once");
        assert_eq!(claimed, 260, "{label}: claimed once each ({lost} claims lost to another scheduler)");
        let ten = store.get("ten").await?.expect("the entry");
        assert_eq!((ten.runs, ten.last_fire), (100, Some(at("2026-12-07T00:16:40Z"))), "{label}");
        assert!(ten.last_drift_ms.is_some() && ten.last_error.is_none(), "{label}");
        assert_eq!(store.get("once").await?.expect("the entry").next_fire, None, "{label}: a clocked schedule is done");
        assert_eq!(store.get("off").await?.expect("the entry").runs, 0, "{label}: disabled");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_fires_are_caught_up_or_skipped_and_errors_recorded() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    for env in every_store("beat-missed").await {
        let label = env.label;
        let clock = std::sync::Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.stores().schedules();
        store.put(&entry("latest", "every 10s", t0).catching_up(Duration::from_secs(15), CatchUp::Latest)).await?;
        store.put(&entry("all", "every 10s", t0).catching_up(Duration::from_secs(15), CatchUp::All)).await?;
        store
            .put(
                &entry("stale", "every 10s from 2026-12-07T00:00:05Z", t0)
                    .catching_up(Duration::from_secs(2), CatchUp::Latest),
            )
            .await?;
        let mut unlinked = entry("unlinked", "every 10s", t0);
        unlinked.task = "not.linked".to_owned();
        store.put(&unlinked).await?;
        // Down for 100 s, then one tick.
        clock.advance(Duration::from_secs(100));
        let (tick, _) = Scheduler::with_registry(&stem, registry()).tick().await?;
        let latest = store.get("latest").await?.expect("the entry");
        assert_eq!((latest.runs, latest.skipped), (1, 9), "{label}: the latest fire, within the grace period");
        assert_eq!(latest.last_fire, Some(at("2026-12-07T00:01:40Z")), "{label}: the latest fire covered");
        let all = store.get("all").await?.expect("the entry");
        assert_eq!((all.runs, all.skipped), (10, 0), "{label}: every missed fire");
        let stale = store.get("stale").await?.expect("the entry");
        assert_eq!(
            (stale.runs, stale.skipped),
            (0, 10),
            "{label}: the latest fire (95 s) is 5 s late, past 2 s of grace"
        );
        assert_eq!(latest.next_fire, Some(at("2026-12-07T00:01:50Z")), "{label}: the next fire is after now");
        let error = store.get("unlinked").await?.expect("the entry").last_error.unwrap_or_default();
        assert!(error.contains("not.linked") && error.contains("not linked"), "{label}: {error}");
        assert_eq!(tick.failed, 1, "{label}");
        assert_eq!(pending(&stem).await, 11, "{label}");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_scheduler_fires_what_a_worker_runs() -> TestResult {
    for env in every_store("beat-run").await {
        let label = env.label;
        let stem = env.stem.clone();
        let call = TickTask::call(42);
        let schedule = ScheduleEntry::new("every-second", call, Schedule::every(Duration::from_secs(1))?)?;
        stem.stores().schedules().put(&schedule).await?;
        let scheduler = Scheduler::with_registry(&stem, registry()).spawn();
        let worker = Worker::builder(&stem).task::<TickTask>().handle_signals(false).build()?.spawn();
        let ran = stem_tests::until_ok("a fire that ran", || async {
            let entry = stem.stores().schedules().get("every-second").await.map_err(|e| e.to_string())?.expect("entry");
            let fire = entry.last_fire.ok_or("no fire yet")?;
            let id = stem::beat::fire_id("every-second", fire);
            stem.handle::<u32>(id).wait_timeout(Duration::from_millis(200)).await.map_err(|e| e.to_string())
        })
        .await;
        assert_eq!(ran, 42, "{label}");
        scheduler.stop().await;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// A broker that keeps a copy of every message published through it, so
/// that a test reads the ready time (`not_before`) each enqueued task got.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Broker>,
    published: Mutex<Vec<Envelope>>,
}

impl Recording {
    fn around(stem: &Stem) -> Arc<Self> {
        Arc::new(Self { inner: stem.broker().clone(), published: Mutex::new(Vec::new()) })
    }

    /// The ready time of each task schedule `id` enqueued, by its fire.
    fn ready_times(&self, id: &str) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        let published = self.published.lock().expect("not poisoned");
        let mut ready: Vec<_> = published
            .iter()
            .filter(|e| e.meta.get("stem.schedule").and_then(|v| v.as_str()) == Some(id))
            .map(|e| {
                let fire = e.meta["stem.schedule.fire"].as_str().expect("the fire").parse().expect("a time");
                assert_eq!(e.id, stem::beat::fire_id(id, fire), "the task id is the fire's");
                (fire, e.not_before)
            })
            .collect();
        ready.sort();
        ready
    }
}

#[async_trait::async_trait]
impl Broker for Recording {
    async fn publish(&self, envelope: Envelope) -> stem::Result<()> {
        self.published.lock().expect("not poisoned").push(envelope.clone());
        self.inner.publish(envelope).await
    }
    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> stem::Result<()> {
        self.published.lock().expect("not poisoned").extend(envelopes.iter().cloned());
        self.inner.publish_batch(envelopes).await
    }
    async fn receive(&self, request: &ReceiveRequest) -> stem::Result<Vec<Delivery>> {
        self.inner.receive(request).await
    }
    async fn ack_batch(&self, receipts: &[Receipt]) -> stem::Result<usize> {
        self.inner.ack_batch(receipts).await
    }
    async fn nack(&self, receipt: &Receipt, nack: Nack) -> stem::Result<()> {
        self.inner.nack(receipt, nack).await
    }
    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> stem::Result<DateTime<Utc>> {
        self.inner.extend_lease(receipt, by).await
    }
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> stem::Result<()> {
        self.inner.dead_letter(receipt, reason).await
    }
    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        self.inner.dead_letters()
    }
    fn stats(&self) -> Option<&dyn QueueStats> {
        self.inner.stats()
    }
    fn broadcast(&self) -> Option<&dyn Broadcast> {
        self.inner.broadcast()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_delays_each_task_within_its_bound_and_start_and_end_bound_the_fires() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    let t = |s: i64| t0 + chrono::Duration::seconds(s);
    let jitter = chrono::Duration::seconds(5);
    for env in every_store("beat-bounds").await {
        let label = env.label;
        let clock = Arc::new(FakeClock::at(t0));
        let recording = Recording::around(&env.stem);
        let stem = Stem::new(env.stem.stores().clone().with_broker(recording.clone())).with_clock(clock.clone());
        let store = stem.schedules();
        store.put(&entry("jittered", "every 10s", t0).jitter(jitter.to_std()?)).await?;
        // The control: no jitter, so each task is ready at its fire exactly.
        store.put(&entry("control", "every 10s from 2026-12-07T00:00:05Z", t0)).await?;
        let mut bounded = entry("bounded", "every 10s", t0);
        bounded = bounded.between(Some(t(25)), Some(t(45)));
        bounded.next_fire = bounded.fire_after(t0);
        store.put(&bounded).await?;
        assert_eq!(bounded.next_fire, Some(t(30)), "{label}: the first fire after the start");
        let scheduler = Scheduler::with_registry(&stem, registry());
        for _ in 0..60 {
            clock.advance(Duration::from_secs(1));
            scheduler.tick().await?;
        }
        let bounded = store.get("bounded").await?.expect("the entry");
        assert_eq!((bounded.runs, bounded.next_fire), (2, None), "{label}: 30 s and 40 s, then past the end");
        let fires =
            |ready: &[(DateTime<Utc>, Option<DateTime<Utc>>)]| ready.iter().map(|(f, _)| *f).collect::<Vec<_>>();

        // Each jittered task is ready from its fire to its fire plus the
        // jitter, and the delays differ (random, not one offset for all).
        let jittered = recording.ready_times("jittered");
        assert_eq!(fires(&jittered), (1..=6).map(|n| t(n * 10)).collect::<Vec<_>>(), "{label}");
        let mut delays = Vec::new();
        for (fire, ready) in &jittered {
            let ready = ready.unwrap_or_else(|| panic!("{label}: the fire at {fire} has no ready time"));
            assert!(*fire <= ready && ready <= *fire + jitter, "{label}: fire {fire}, ready {ready}");
            delays.push(ready - *fire);
        }
        delays.sort();
        delays.dedup();
        assert!(delays.len() > 1, "{label}: jitter delays the tasks by different amounts: {delays:?}");

        let control = recording.ready_times("control");
        assert_eq!(fires(&control), (0..6).map(|n| t(5 + n * 10)).collect::<Vec<_>>(), "{label}");
        for (fire, ready) in &control {
            assert_eq!(*ready, Some(*fire), "{label}: without jitter, ready at the fire exactly");
        }
        let bounded = recording.ready_times("bounded");
        assert_eq!(bounded, vec![(t(30), Some(t(30))), (t(40), Some(t(40)))], "{label}");

        // And the store holds each of them, under the fire's own task id.
        let queues = stem.queue_stats()?.queues().await?;
        let beat = queues.iter().find(|q| q.queue == "beat").expect("the queue");
        assert_eq!(beat.ready + beat.delayed, 14, "{label}: {beat:?}");
        let first = stem::beat::fire_id("jittered", t(10));
        assert!(stem.handle::<u32>(first).status().await?.is_some(), "{label}: the fire's own task id");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_fire_records_its_lateness_as_drift() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    for env in every_store("beat-drift").await {
        let label = env.label;
        let clock = Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.schedules();
        // Due at 10 s and 15 s, within a minute's grace; and at 17.5 s.
        store.put(&entry("seven-late", "every 10s", t0)).await?;
        store.put(&entry("two-late", "every 10s from 2026-12-07T00:00:15Z", t0)).await?;
        store.put(&entry("ahead", "every 10s from 2026-12-07T00:00:17.500Z", t0)).await?;
        // The scheduler was away until 17 s.
        clock.advance(Duration::from_secs(17));
        let (tick, _) = Scheduler::with_registry(&stem, registry()).tick().await?;
        assert_eq!((tick.enqueued, tick.skipped), (3, 0), "{label}: {tick:?}");
        for (id, fire, drift) in [
            ("seven-late", "2026-12-07T00:00:10Z", 7_000),
            ("two-late", "2026-12-07T00:00:15Z", 2_000),
            // Claimed ahead: ready at its due time, not late.
            ("ahead", "2026-12-07T00:00:17.500Z", 0),
        ] {
            let e = store.get(id).await?.expect("the entry");
            assert_eq!((e.runs, e.last_fire), (1, Some(at(fire))), "{label}: {id}");
            assert_eq!(e.last_drift_ms, Some(drift), "{label}: {id} was enqueued {drift} ms after its due time");
        }
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_all_enqueues_the_latest_hundred_and_counts_the_rest() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    let t = |s: i64| t0 + chrono::Duration::seconds(s);
    let hour = Duration::from_secs(3600);
    for env in every_store("beat-catch-up").await {
        let label = env.label;
        let clock = Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.schedules();
        store.put(&entry("tens", "every 10s", t0).catching_up(hour, CatchUp::All)).await?;
        let odd = "every 2s from 2026-12-07T00:00:01Z";
        store.put(&entry("odd", odd, t0).catching_up(hour, CatchUp::All)).await?;
        store.put(&entry("latest", odd, t0).catching_up(hour, CatchUp::Latest)).await?;
        // Down for 2,505 s: 250 fires of `tens` missed (10 s to 2,500 s),
        // 1,253 of `odd` and `latest` (1 s to 2,505 s); none in the next second.
        clock.advance(Duration::from_secs(2505));
        let (tick, _) = Scheduler::with_registry(&stem, registry()).tick().await?;
        assert_eq!((tick.enqueued, tick.skipped), (201, 150 + 1153 + 1252), "{label}: {tick:?}");
        let exists = |id: &'static str, s: i64| {
            let stem = stem.clone();
            async move { stem.handle::<u32>(stem::beat::fire_id(id, t(s))).status().await.map(|status| status.is_some()) }
        };
        for (id, runs, skipped, first, last) in
            [("tens", 100, 150, 1510, 2500), ("odd", 100, 1153, 2307, 2505), ("latest", 1, 1252, 2505, 2505)]
        {
            let e = store.get(id).await?.expect("the entry");
            assert_eq!((e.runs, e.skipped), (runs, skipped), "{label}: {id}");
            assert_eq!(e.last_fire, Some(t(last)), "{label}: {id}");
            // The latest fires are the ones enqueued, not the earliest.
            assert!(exists(id, last).await?, "{label}: {id}'s latest fire, at {last} s, is enqueued");
            assert!(exists(id, first).await?, "{label}: {id}'s fire at {first} s is enqueued");
            let before = if id == "tens" { first - 10 } else { first - 2 };
            assert!(!exists(id, before).await?, "{label}: {id}'s fire at {before} s is skipped");
        }
        assert_eq!(pending(&stem).await, 201, "{label}");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_claimed_twice_is_one_task() -> TestResult {
    let t0 = at("2026-12-07T00:00:00Z");
    for env in every_store("beat-twice").await {
        let label = env.label;
        let clock = Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.schedules();
        store.put(&entry("twice", "every 10s", t0)).await?;
        clock.advance(Duration::from_secs(10));
        let scheduler = Scheduler::with_registry(&stem, registry());
        let (first, _) = scheduler.tick().await?;
        assert_eq!((first.claimed, first.enqueued), (1, 1), "{label}");
        assert_eq!(pending(&stem).await, 1, "{label}");
        // The store forgets the claim (restored from a backup, say): the
        // same fire is claimed and enqueued again ...
        let mut rewound = store.get("twice").await?.expect("the entry");
        let fire = rewound.last_fire.expect("fired");
        rewound.next_fire = Some(fire);
        store.put(&rewound).await?;
        let (again, _) = scheduler.tick().await?;
        assert_eq!((again.claimed, again.enqueued), (1, 1), "{label}: claimed a second time");
        assert_eq!(store.get("twice").await?.expect("the entry").runs, 2, "{label}");
        // ... under the same task id, so the store still holds one task.
        assert_eq!(pending(&stem).await, 1, "{label}: one task per (schedule, fire)");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_fires_once_on_daylight_saving_days() -> TestResult {
    // 02:30 in Paris: skipped on 2026-03-29 (02:00 CET becomes 03:00 CEST,
    // at 01:00 UTC), twice on 2026-10-25 (03:00 CEST becomes 02:00 CET).
    let spring = at("2026-03-28T00:00:00Z");
    let autumn = at("2026-10-24T00:00:00Z");
    let step = Duration::from_secs(600);
    for env in every_store("beat-dst").await {
        let label = env.label;
        let clock = Arc::new(FakeClock::at(spring));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.schedules();
        let paris = "cron: 30 2 * * * Europe/Paris";
        let hour = Duration::from_secs(3600);
        store.put(&entry("spring", paris, spring).catching_up(hour, CatchUp::Latest)).await?;
        let mut fall = entry("autumn", paris, spring).catching_up(hour, CatchUp::Latest);
        fall.next_fire = fall.fire_after(autumn);
        store.put(&fall).await?;
        let scheduler = Scheduler::with_registry(&stem, registry());
        // Ten minutes a tick for three days; the fires each schedule made.
        let walk = async |id: &str, from: DateTime<Utc>| -> stem::Result<Vec<DateTime<Utc>>> {
            let mut fires = Vec::new();
            while stem.now() < from + chrono::Duration::days(3) {
                clock.advance(step);
                scheduler.tick().await?;
                let e = store.get(id).await?.expect("the entry");
                if let Some(fire) = e.last_fire
                    && fires.last() != Some(&fire)
                {
                    fires.push(fire);
                }
                assert_eq!(e.runs, fires.len() as u64, "one run per fire");
            }
            Ok(fires)
        };
        let fires = walk("spring", spring).await?;
        let expected = ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"];
        assert_eq!(fires, expected.map(at), "{label}: 02:30 CET, the jump to CEST, 02:30 CEST");
        assert!(store.set_enabled("spring", false, None).await?, "{label}");
        clock.advance((autumn - stem.now()).to_std()?);
        let fires = walk("autumn", autumn).await?;
        let expected = ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"];
        assert_eq!(fires, expected.map(at), "{label}: 02:30 CEST, the first 02:30 only, 02:30 CET");
        assert_eq!(pending(&stem).await, 6, "{label}: one task per fire");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_schedule_enqueues_its_tasks_default_arguments() -> TestResult {
    for env in every_store("beat-declared").await {
        let label = env.label;
        let stem = env.stem.clone();
        let registry = Registry::new().register::<DigestTask>();
        let put = Scheduler::with_registry(&stem, registry.clone()).declare().await?;
        assert_eq!(put, 1, "{label}");
        let declared = stem.schedules().get(DigestTask::NAME).await?.expect("the declared schedule");
        assert_eq!(declared.args, serde_json::json!({ "digest": { "days": 7 }, "only": null }), "{label}");
        let scheduler = Scheduler::with_registry(&stem, registry).spawn();
        let worker = Worker::builder(&stem).task::<DigestTask>().handle_signals(false).build()?.spawn();
        let ran = stem_tests::until_ok("a fire that ran", || async {
            let entry = stem.schedules().get(DigestTask::NAME).await.map_err(|e| e.to_string())?.expect("entry");
            let fire = entry.last_fire.ok_or("no fire yet")?;
            let id = stem::beat::fire_id(DigestTask::NAME, fire);
            stem.handle::<u32>(id).wait_timeout(Duration::from_millis(200)).await.map_err(|e| e.to_string())
        })
        .await;
        assert_eq!(ran, 7, "{label}: run with the default arguments");
        scheduler.stop().await;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
