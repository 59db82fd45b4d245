//! Stem on a Redis Cluster end to end: typed tasks on queues whose keys live
//! on different nodes, a large batch, a delayed task, a workflow woken by an
//! event, a receiver waiting on two queues at once, worker heartbeats,
//! namespace deletion across every node, node restarts, failover and a
//! queue's hash slot moving to another node under load. Each test owns its
//! cluster: `redis-server` nodes on free ports, joined by `redis-cli
//! --cluster create`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::prelude::*;
use stem::{Broker, Envelope, ResultBackend, WorkerHandle};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{RedisCluster, TestResult, WAIT, until_ok, within};

/// Queue names whose keys hash to slots on different nodes of a three-node
/// cluster (slot 3,300 is on the first, 15,495 on the third).
const LEFT: &str = "b";
const RIGHT: &str = "a";

#[stem::task(queue = "b")]
async fn double(n: u64) -> Result<u64, TaskError> {
    Ok(n * 2)
}

#[stem::task(queue = "a")]
async fn shout(text: String) -> Result<String, TaskError> {
    Ok(text.to_uppercase())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parcel {
    tracking: String,
}

const SHIPPED: EventTopic<Parcel> = EventTopic::new("test.cluster.shipped");

#[stem::workflow]
async fn ship(wf: WorkflowContext, order: u32) -> Result<String, WorkflowError> {
    let parcel = wf.await_event(SHIPPED).await?;
    Ok(format!("order {order} shipped as {}", parcel.tracking))
}

/// A store on `cluster` in `namespace`.
async fn store_on(cluster: &RedisCluster, namespace: &str) -> stem::Result<RedisStore> {
    RedisStore::connect_with(RedisOptions::cluster(cluster.urls()).with_namespace(namespace)).await
}

/// A store on `cluster` in `namespace`, a Stem on it, and a worker running
/// `Double` and `Shout` from both queues.
async fn worker_on(cluster: &RedisCluster, namespace: &str) -> stem::Result<(RedisStore, Stem, WorkerHandle)> {
    let store = store_on(cluster, namespace).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem)
        .task::<Double>()
        .task::<Shout>()
        .queues([LEFT, RIGHT])
        .concurrency(4)
        .handle_signals(false)
        .build()?
        .spawn();
    Ok((store, stem, worker))
}

/// The key of a task's record on a Cluster: tagged with the namespace and
/// the id's last hex digit (`Keys::task`).
fn task_key(namespace: &str, id: stem::TaskId) -> String {
    let id = id.to_string();
    format!("stem:{namespace}:task:{{{namespace}:{}}}:{id}", &id[id.len() - 1..])
}

/// How many clients of the node at `port` are blocked in `XREAD`.
fn blocked_readers(cluster: &RedisCluster, port: u16) -> usize {
    cluster.cli(port, &["client", "list"]).lines().filter(|line| line.contains(" cmd=xread ")).count()
}

/// Keys on the node at `port` (all namespaces: the cluster is this test's own).
fn keys_on(cluster: &RedisCluster, port: u16) -> usize {
    cluster.cli(port, &["dbsize"]).trim().parse().expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_workflows_run_on_a_cluster() -> TestResult {
    let Some(cluster) = RedisCluster::start() else { return Ok(()) };
    let store = store_on(&cluster, "cluster_e2e").await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem)
        .task::<Double>()
        .task::<Shout>()
        .workflow::<Ship>()
        .queues([LEFT, RIGHT, "default"])
        .concurrency(8)
        .heartbeat_interval(Duration::from_millis(100))
        .workflow_poll_interval(Duration::from_millis(20))
        .handle_signals(false)
        .build()?
        .spawn();

    assert_eq!(Double::enqueue(&stem, 21).await?.wait_timeout(WAIT).await?, 42);
    assert_eq!(Shout::enqueue(&stem, "hi".to_owned()).await?.wait_timeout(WAIT).await?, "HI");

    // One batch over both queues: messages, statuses and wakes spread over the nodes.
    let doubles = stem.enqueue_many((0..600).map(Double::call)).await?;
    let shouts = stem.enqueue_many((0..600).map(|n| Shout::call(format!("n{n}")))).await?;
    for (n, handle) in doubles.iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, 2 * n as u64);
    }
    for (n, handle) in shouts.iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, format!("N{n}"));
    }

    let started = Instant::now();
    let later = Double::call(5).countdown(Duration::from_millis(300)).enqueue(&stem).await?;
    assert_eq!(later.wait_timeout(WAIT).await?, 10);
    assert!(started.elapsed() >= Duration::from_millis(300), "a delayed task ran after {:?}", started.elapsed());

    let run = Ship::start(&stem, 7).await?;
    let waiting = within("the run to wait for its event", async {
        loop {
            let sent = stem.emit(SHIPPED, Parcel { tracking: "T-7".into() }).await.expect("emit");
            if sent == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    waiting.await;
    assert_eq!(run.wait_timeout(WAIT).await?, "order 7 shipped as T-7");

    let beats = stem.backend().list_heartbeats().await?;
    assert_eq!(beats.len(), 1, "the worker's heartbeat is listed: {beats:?}");

    worker.stop(ShutdownMode::Warm).await?;
    let ports = cluster.ports();
    assert!(ports.iter().all(|&p| keys_on(&cluster, p) > 0), "every node holds some of the keys");
    assert!(store.delete_namespace().await? > 0);
    for port in ports {
        assert_eq!(keys_on(&cluster, port), 0, "the namespace is gone from the node on port {port}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_waiting_on_queues_of_two_nodes_wakes_for_either() -> TestResult {
    let Some(cluster) = RedisCluster::start() else { return Ok(()) };
    let store = store_on(&cluster, "cluster_wait").await?;
    let broker = store.broker();
    let request = ReceiveRequest {
        queues: vec![LEFT.to_owned(), RIGHT.to_owned()],
        max: 10,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(30),
        consumer: "c1".to_owned(),
    };
    // The node of each queue: `b` on the first, `a` on the third.
    for (queue, port) in [(RIGHT, cluster.ports()[2]), (LEFT, cluster.ports()[0])] {
        // A read left waiting by the round before may still block there.
        let before = blocked_readers(&cluster, port);
        let waiting = {
            let (broker, request) = (broker.clone(), request.clone());
            tokio::spawn(async move { broker.receive(&request).await })
        };
        // Readiness of the receiver: blocked on the queue's node, so that the
        // message must wake it (its 30 s wait would otherwise end the test).
        within("the receiver to block on the queue's node", async {
            while blocked_readers(&cluster, port) <= before {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let envelope = Envelope::new("t", queue, Payload::new("json", b"1".to_vec()));
        broker.publish(envelope.clone()).await?;
        let got = within("the waiting receiver to get the message", waiting).await??;
        assert_eq!(got.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), [envelope.id], "queue {queue}");
        broker.ack(&got[0].receipt).await?;
    }
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_a_single_server_mistaken_for_each_other_name_the_fix() -> TestResult {
    let Some(cluster) = RedisCluster::start() else { return Ok(()) };
    let node = cluster.urls().remove(0);
    let message = RedisStore::connect(&node).await.expect_err("a cluster node without cluster=true").to_string();
    assert!(message.contains("is a Redis Cluster node") && message.contains("cluster=true"), "{message}");
    let Some(server) = stem_tests::redis_url() else { return Ok(()) };
    let error =
        RedisStore::connect_with(RedisOptions::cluster([server.clone()])).await.expect_err("one server as a cluster");
    let message = error.to_string();
    assert!(message.contains("not a Cluster node") && message.contains("without ?cluster=true"), "{message}");

    // A user whose ACL denies `INFO` still opens one server (the mode check is skipped).
    let user = format!("stem_noinfo_{:08x}", fastrand::u32(..));
    let mut admin = redis::Client::open(server.as_str())?.get_multiplexed_async_connection().await?;
    let rules = ["on", "nopass", "~*", "&*", "+@all", "-info"];
    redis::cmd("ACL").arg("SETUSER").arg(&user).arg(&rules).query_async::<()>(&mut admin).await?;
    let url = server.replacen("redis://", &format!("redis://{user}:any@"), 1);
    let opened = RedisStore::connect(&url).await;
    redis::cmd("ACL").arg("DELUSER").arg(&user).query_async::<()>(&mut admin).await?;
    opened.map_err(|e| format!("a user without INFO: {e}"))?;

    // A queue whose keys would have no hash tag is refused on a cluster, by name.
    let store = store_on(&cluster, "cluster_names").await?;
    let envelope = Envelope::new("t", "}odd", Payload::new("json", b"1".to_vec()));
    let message = store.broker().publish(envelope).await.expect_err("an empty hash tag").to_string();
    assert!(message.contains("`}odd`") && message.contains("cannot be used on a Redis Cluster"), "{message}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumes_when_a_cluster_node_comes_back() -> TestResult {
    let persistent = ["--appendonly", "yes", "--appendfsync", "always"];
    let Some(mut cluster) = RedisCluster::start_with(false, &persistent, &[]) else { return Ok(()) };
    let (store, stem, worker) = worker_on(&cluster, "cluster_restart").await?;
    // A task whose record is on the node about to go (slots 10,923 and up).
    let mut before = None;
    for n in 0..60 {
        let handle = Shout::enqueue(&stem, format!("before {n}")).await?;
        assert_eq!(handle.wait_timeout(WAIT).await?, format!("BEFORE {n}"));
        let key = task_key("cluster_restart", handle.id());
        let slot: u16 = cluster.cli(cluster.ports()[0], &["cluster", "keyslot", &key]).trim().parse()?;
        if slot >= 10_923 {
            before = Some((handle, format!("BEFORE {n}")));
            break;
        }
    }
    let (before, done) = before.expect("one of 60 records falls on the third node");

    // The node of queue `a` (slot 15,495) goes away.
    cluster.stop_node(2);
    let error = Shout::enqueue(&stem, "down".to_owned()).await.expect_err("the queue's node is down");
    eprintln!("enqueue while a node was down: {error}");
    assert!(error.to_string().contains("Redis"), "the error names the store: {error}");

    cluster.start_node(2);
    // The connection finds the node again on its own; the worker was never restarted.
    let after = until_ok("the node to accept tasks again", || Shout::enqueue(&stem, "after".to_owned())).await;
    assert_eq!(after.wait_timeout(WAIT).await?, "AFTER", "the worker resumed consuming");
    assert_eq!(
        before.wait_timeout(WAIT).await?,
        done,
        "work recorded on the restarted node before the outage is still there"
    );
    assert_eq!(Double::enqueue(&stem, 4).await?.wait_timeout(WAIT).await?, 8, "the other nodes' queue still runs");
    worker.stop(ShutdownMode::Warm).await?;
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_carries_on_when_a_replica_takes_over_from_its_primary() -> TestResult {
    let Some(mut cluster) = RedisCluster::start_replicated(&["--cluster-node-timeout", "1000"]) else { return Ok(()) };
    let (store, stem, worker) = worker_on(&cluster, "cluster_failover").await?;
    assert_eq!(Shout::enqueue(&stem, "before".to_owned()).await?.wait_timeout(WAIT).await?, "BEFORE");

    // The primary of queue `a` (slot 15,495) dies; its replica is elected in its place.
    let ports = cluster.ports();
    cluster.stop_node(2);
    within("a replica to take over the slots of the dead primary", async {
        let dead = format!(":{}@", ports[2]);
        let promoted = |nodes: String| {
            nodes.lines().any(|l| !l.contains(&dead) && l.contains("master") && l.contains("10923-16383"))
        };
        while !promoted(cluster.cli(ports[0], &["cluster", "nodes"])) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The client follows the slots to the new primary; the worker was never restarted.
    let after = until_ok("the new primary to accept tasks", || Shout::enqueue(&stem, "after".to_owned())).await;
    assert_eq!(after.wait_timeout(WAIT).await?, "AFTER", "the worker consumes from the promoted replica");
    assert_eq!(Double::enqueue(&stem, 4).await?.wait_timeout(WAIT).await?, 8);
    worker.stop(ShutdownMode::Warm).await?;
    store.delete_namespace().await?;
    Ok(())
}

/// Moves hash slot `slot` from node `from` to node `to` as `redis-cli
/// --cluster reshard` does (importing and migrating, its keys `batch` to a
/// `MIGRATE`, then the slot's new owner told to every node), pausing `pause`
/// between batches so that clients meet the slot half moved. `phase` is 1
/// from the moment the slot is migrating until the nodes are told its new
/// owner, then 2.
fn move_slot(
    cluster: &RedisCluster,
    slot: u16,
    (from, to): (usize, usize),
    batch: usize,
    pause: Duration,
    phase: &AtomicU8,
) {
    let ports = cluster.ports();
    let id = |i: usize| cluster.cli(ports[i], &["cluster", "myid"]).trim().to_owned();
    let (source, target, slot) = (id(from), id(to), slot.to_string());
    assert_eq!(cluster.cli(ports[to], &["cluster", "setslot", &slot, "importing", &source]).trim(), "OK");
    assert_eq!(cluster.cli(ports[from], &["cluster", "setslot", &slot, "migrating", &target]).trim(), "OK");
    phase.store(1, Ordering::Relaxed);
    loop {
        let listed = cluster.cli(ports[from], &["cluster", "getkeysinslot", &slot, &batch.to_string()]);
        let keys: Vec<&str> = listed.lines().filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            break;
        }
        let port = ports[to].to_string();
        let mut args = vec!["migrate", "127.0.0.1", &port, "", "0", "5000", "keys"];
        args.extend(&keys);
        let moved = cluster.cli(ports[from], &args);
        assert_eq!(moved.trim(), "OK", "MIGRATE of {keys:?}");
        std::thread::sleep(pause);
    }
    std::thread::sleep(pause);
    phase.store(2, Ordering::Relaxed);
    for port in ports {
        assert_eq!(cluster.cli(port, &["cluster", "setslot", &slot, "node", &target]).trim(), "OK");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_and_a_producer_carry_on_while_their_queues_slot_moves() -> TestResult {
    let Some(cluster) = RedisCluster::start() else { return Ok(()) };
    let (store, stem, worker) = worker_on(&cluster, "cluster_reshard").await?;
    // Queue `a`'s keys (slot 15,495, on node 2) hold messages, entries and a
    // consumer group before the move starts.
    assert_eq!(Shout::enqueue(&stem, "before".to_owned()).await?.wait_timeout(WAIT).await?, "BEFORE");
    let ports = cluster.ports();
    let in_slot = |port: u16| -> usize {
        cluster.cli(port, &["cluster", "countkeysinslot", "15495"]).trim().parse().expect("a count")
    };
    assert!(in_slot(ports[2]) > 1, "the queue's keys are on node 2");

    // A producer enqueues one call at a time, and a batch now and then, all along.
    // 0 before the move, 1 while the slot is half moved, 2 after.
    let phase = Arc::new(AtomicU8::new(0));
    let progress = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (stem, phase, progress) = (stem.clone(), Arc::clone(&phase), Arc::clone(&progress));
        tokio::spawn(async move {
            let (mut handles, mut refused, mut during, mut after) = (Vec::new(), 0, 0, 0);
            let mut n = 0u32;
            while after < 200 {
                n += 1;
                let started_in = phase.load(Ordering::Relaxed);
                let enqueued = if n.is_multiple_of(50) {
                    stem.enqueue_many((0..20).map(|i| Shout::call(format!("b{n}.{i}"))))
                        .await
                        .map(|hs| hs.into_iter().enumerate().map(|(i, h)| (h, format!("B{n}.{i}"))).collect::<Vec<_>>())
                } else {
                    Shout::enqueue(&stem, format!("t{n}")).await.map(|h| vec![(h, format!("T{n}"))])
                };
                match enqueued {
                    Ok(list) => {
                        handles.extend(list);
                        progress.fetch_add(1, Ordering::Relaxed);
                        // In flight while the slot was half moved, through to its end.
                        let ended_in = phase.load(Ordering::Relaxed);
                        if started_in <= 1 && ended_in == 2 {
                            during += 1;
                        } else if started_in == 2 {
                            after += 1;
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        if refused == 1 {
                            eprintln!("an enqueue during the move failed: {e}");
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            (handles, refused, during)
        })
    };
    within("the producer to be under way", async {
        while progress.load(Ordering::Relaxed) < 50 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The move's `redis-cli` calls block: the runtime's other thread carries on.
    tokio::task::block_in_place(|| move_slot(&cluster, 15_495, (2, 0), 2, Duration::from_millis(500), &phase));
    // Then one of the 16 slots of the task records (those of ids ending in 0).
    let records: u16 = cluster.cli(ports[0], &["cluster", "keyslot", "{cluster_reshard:0}"]).trim().parse()?;
    let owner = usize::from(records / 5_461).min(2);
    let moved_records = tokio::task::block_in_place(|| {
        let held: usize = cluster
            .cli(ports[owner], &["cluster", "countkeysinslot", &records.to_string()])
            .trim()
            .parse()
            .expect("a count");
        move_slot(&cluster, records, (owner, (owner + 1) % 3), 10, Duration::from_millis(200), &phase);
        held
    });
    assert!(moved_records > 0, "the records' slot held records when it moved");
    let (handles, refused, during) = producer.await?;
    eprintln!("{} tasks enqueued, {during} enqueues in flight while the slot moved, {refused} refused", handles.len());
    assert!(during > 0, "an enqueue in flight while the slot was half moved went through");
    assert_eq!(refused, 0, "an enqueue waits for the slot to move rather than fail");
    assert_eq!(in_slot(ports[2]), 0, "nothing of the queue is left on node 2");
    assert!(in_slot(ports[0]) > 1, "the queue's keys are on node 0");
    for (handle, want) in &handles {
        assert_eq!(&handle.wait_timeout(WAIT).await?, want, "task {}", handle.id());
    }
    assert_eq!(Double::enqueue(&stem, 4).await?.wait_timeout(WAIT).await?, 8);
    worker.stop(ShutdownMode::Warm).await?;
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_statuses_in_one_records_slot_is_fenced_and_answered_in_order() -> TestResult {
    use stem::backend::{TaskState, TaskStatus};
    let Some(cluster) = RedisCluster::start() else { return Ok(()) };
    let store = store_on(&cluster, "cluster_batch").await?;
    let backend = store.backend();
    // 620 tasks whose records share one slot (ids ending in 7): more than one script call's 500.
    let ids: Vec<stem::TaskId> =
        std::iter::repeat_with(stem::TaskId::new).filter(|id| id.to_string().ends_with('7')).take(620).collect();
    let status = |at: usize, state: TaskState, fence: u64| {
        let mut status = TaskStatus::new(ids[at], "t", LEFT, state);
        status.fence = fence;
        status
    };
    let started: Vec<TaskStatus> = (0..600).map(|at| status(at, TaskState::Started, 2)).collect();
    assert_eq!(backend.set_batch(&mut started.clone()).await?, vec![true; 600]);

    let mut batch = vec![
        status(0, TaskState::Succeeded, 1), // older than the stored fence 2: refused
        status(1, TaskState::Succeeded, 3), // newer: written
        status(1, TaskState::Failed, 2),    // older than the 3 written just before in this batch: refused
        status(2, TaskState::Queued, 0),    // a producer's record where one exists: not written
    ];
    let mut want = vec![false, true, false, false];
    for at in 3..560 {
        batch.push(status(at, TaskState::Succeeded, 2)); // the same fence: written
        want.push(true);
    }
    for at in 600..620 {
        batch.push(status(at, TaskState::Queued, 0)); // new tasks' records: written
        want.push(true);
    }
    assert_eq!(backend.set_batch(&mut batch).await?, want, "each answer in its place");
    assert_eq!(backend.get(ids[0]).await?.map(|s| s.state), Some(TaskState::Started));
    assert_eq!(backend.get(ids[1]).await?.map(|s| (s.state, s.fence)), Some((TaskState::Succeeded, 3)));
    assert_eq!(backend.get(ids[2]).await?.map(|s| s.state), Some(TaskState::Started));
    assert_eq!(backend.get(ids[559]).await?.map(|s| s.state), Some(TaskState::Succeeded));
    assert_eq!(backend.get(ids[610]).await?.map(|s| s.state), Some(TaskState::Queued));
    store.delete_namespace().await?;
    Ok(())
}
