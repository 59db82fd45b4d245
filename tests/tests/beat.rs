//! The Beat scheduler, on every store: three schedulers driven by a fake
//! clock through 1,000 ticks enqueue each due fire exactly once; missed
//! fires are caught up or skipped as the schedule says; a schedule whose
//! task is not linked records the error; what a schedule fires runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use stem::beat::{CatchUp, Schedule, ScheduleEntry, Scheduler};
use stem::prelude::*;
use stem::testing::FakeClock;
use stem::{Registry, Stem};
use stem_tests::{TestResult, every_store};

#[stem::task(queue = "beat")]
async fn tick_task(n: u32) -> Result<u32, TaskError> {
    Ok(n)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_delays_the_task_and_start_and_end_bound_the_fires() -> TestResult {
    // An hour ahead of the brokers' clocks, so that a fire's task that is
    // not ready is held back by its jitter, not by the fake clock.
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() / 60 * 60 + 3600, 0).expect("a time");
    let t = |s: i64| t0 + chrono::Duration::seconds(s);
    for env in every_store("beat-bounds").await {
        let label = env.label;
        let clock = std::sync::Arc::new(FakeClock::at(t0));
        let stem = env.stem.with_clock(clock.clone());
        let store = stem.schedules();
        let jittered = entry("jittered", "every 10s", t0).jitter(Duration::from_secs(3600));
        store.put(&jittered).await?;
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
        // Six jittered fires, each delayed up to an hour: queued, not ready;
        // the first one's task has the fire's id.
        let queues = stem.queue_stats()?.queues().await?;
        let beat = queues.iter().find(|q| q.queue == "beat").expect("the queue");
        assert_eq!(beat.ready + beat.delayed, 8, "{label}: {beat:?}");
        assert!(beat.delayed >= 5, "{label}: jittered fires are delayed: {beat:?}");
        let first = stem::beat::fire_id("jittered", t(10));
        assert!(stem.handle::<u32>(first).status().await?.is_some(), "{label}: the fire's own task id");
        env.clean().await?;
    }
    Ok(())
}
