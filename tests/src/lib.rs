//! Shared helpers for Stem's end-to-end tests. Tasks are defined in each test
//! file, never here, so that each test binary links only its own tasks.

mod stores;

use std::time::Duration;

use stem::worker::WorkerBuilder;
use stem::{Stem, Worker, WorkerHandle};

pub use self::stores::{Env, every_store};

/// The longest any test waits for an outcome; a healthy run takes far less.
pub const WAIT: Duration = Duration::from_secs(10);

/// What a test returns.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// An in-memory Stem with a running worker configured by `configure`.
pub fn spawn_worker(configure: impl FnOnce(WorkerBuilder) -> WorkerBuilder) -> (Stem, WorkerHandle) {
    let stem = Stem::in_memory();
    let worker = configure(Worker::builder(&stem)).build().expect("worker configuration is valid").spawn();
    (stem, worker)
}

/// Waits for `future` for at most [`WAIT`], failing the test with `what` otherwise.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Calls `op` until it succeeds (a server coming back, a record appearing),
/// every 50 ms, failing the test with `what` after [`WAIT`].
pub async fn until_ok<T, E, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    within(what, async {
        loop {
            if let Ok(value) = op().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// The dead letter of task `id` in `queue`, once it is there: a worker records
/// a task's final status before it moves the delivery to the dead letter
/// queue, so a test that has just seen the failure polls for it.
pub async fn dead_letter(stem: &Stem, queue: &str, id: stem::TaskId) -> stem::broker::DeadLetter {
    until_ok("the dead letter", || async {
        stem.dead_letters()?.get_dead_letter(queue, id).await?.ok_or(stem::Error::UnknownTaskId(id))
    })
    .await
}

/// A fresh directory for one test's files, removed when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates an empty directory named after `label` under the system's temp dir.
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!("stem-{label}-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    /// The path of `name` inside the directory.
    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Redis the tests use: `STEM_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`.
///
/// `None` when it does not answer: the caller skips its test, saying so, except
/// under `CI=true`, where an unreachable server fails the test.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("STEM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    server_answers("Redis", &url, 6379).then_some(url)
}

/// Whether a TCP connection to the host and port of `url` opens within a second;
/// panics under `CI=true` when it does not, prints the skip otherwise.
fn server_answers(what: &str, url: &str, default_port: u16) -> bool {
    use std::net::ToSocketAddrs;

    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:{default_port}") };
    let reachable = host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    if !reachable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} at {url} is unreachable, and CI=true requires it (.ci/run starts it)"
        );
        eprintln!("skipped: {what} at {url} is unreachable; start it or set the URL variable to run this test");
    }
    reachable
}

/// A `redis-server` of a test's own, on its own port, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` with `args` on `port` (0: a free one), its files
    /// in `dir`, and waits until it accepts connections. `None` (the test
    /// skips, saying why) if `redis-server` cannot run, except under `CI=true`.
    /// With `tls`, the port is a TLS port and the plain one is off.
    pub fn start(dir: &TempDir, port: u16, tls: bool, args: &[&str]) -> Option<Self> {
        Self::try_start(dir, port, tls, args).map(|started| started.unwrap_or_else(|why| panic!("{why}")))
    }

    /// [`start`](Self::start), with a server that exits (its port or its
    /// cluster bus's taken by another test in between) or never accepts
    /// connections as an error rather than a panic, for callers that try again
    /// on other ports.
    pub fn try_start(dir: &TempDir, port: u16, tls: bool, args: &[&str]) -> Option<Result<Self, String>> {
        let port = if port == 0 { free_port() } else { port };
        let ports = if tls { ["0".to_owned(), port.to_string()] } else { [port.to_string(), "0".to_owned()] };
        let spawned = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--port", &ports[0], "--tls-port", &ports[1]])
            .args(args)
            .arg("--dir")
            .arg(dir.file(""))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "redis-server cannot start under CI=true: {e}");
                eprintln!("skipped: redis-server cannot start ({e}); install Redis to run this test");
                return None;
            }
        };
        let mut server = Self { child, port };
        // Readiness of an outside process: try to connect until it accepts.
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(exit)) = server.child.try_wait() {
                return Some(Err(format!("redis-server on port {port} exited ({exit}); a port was taken")));
            }
            if std::time::Instant::now() >= deadline {
                return Some(Err(format!("redis-server did not accept connections on port {port}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Ok(server))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Freezes it (`SIGSTOP`): it keeps its connections open and answers
    /// nothing, as a half-open connection or a hung server would.
    pub fn pause(&self) {
        let status = std::process::Command::new("kill").arg("-STOP").arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "could not pause redis-server");
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&self) {
        let status = std::process::Command::new("kill").arg("-CONT").arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "could not resume redis-server");
    }

    /// Kills it and returns its port (to start it again there).
    pub fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis Cluster of a test's own: three primaries (every slot covered, no
/// replicas), each a [`RedisServer`] on its own port with its own directory,
/// all stopped when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    /// The running nodes (`None` while stopped) and their ports.
    servers: Vec<Option<RedisServer>>,
    ports: Vec<u16>,
    tls: bool,
    /// Each node's arguments.
    args: Vec<Vec<String>>,
    dirs: Vec<TempDir>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli
    /// --cluster create` and waits until every node says the cluster is ok.
    /// `None` (the test skips, saying why) if `redis-server` cannot run,
    /// except under `CI=true`.
    pub fn start() -> Option<Self> {
        Self::start_with(false, &[], &[])
    }

    /// [`start`](Self::start) with more server `args`; with `tls`, each node
    /// listens on a TLS port only (and `args` must set up its certificates,
    /// `--tls-cluster yes` among them) and `redis-cli` connects with `cli_args`.
    pub fn start_with(tls: bool, args: &[&str], cli_args: &[&str]) -> Option<Self> {
        Self::start_nodes(3, 0, tls, args, cli_args)
    }

    /// Six nodes: three primaries (as in [`start`](Self::start): nodes 0 - 2)
    /// and a replica of each (nodes 3 - 5), with `args`; returns once every
    /// replica has caught up with its primary.
    pub fn start_replicated(args: &[&str]) -> Option<Self> {
        let cluster = Self::start_nodes(6, 1, false, args, &[])?;
        let deadline = std::time::Instant::now() + WAIT;
        for &port in &cluster.ports[3..] {
            while !cluster.cli(port, &["info", "replication"]).contains("master_link_status:up") {
                assert!(std::time::Instant::now() < deadline, "the replica on port {port} did not catch up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(cluster)
    }

    /// `redis-cli -p <port> <args>`'s output (plain connections only).
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output();
        String::from_utf8_lossy(&out.expect("redis-cli runs").stdout).into_owned()
    }

    /// Starts `count` nodes with `replicas` per primary. Ports are picked free
    /// and then bound by the servers, so another test may take one in between
    /// (a node's or its cluster bus's): a node that does not start or a
    /// cluster that fails to form is dropped and made again on new ports,
    /// three times at most.
    fn start_nodes(count: usize, replicas: usize, tls: bool, args: &[&str], cli_args: &[&str]) -> Option<Self> {
        let mut failure = String::new();
        for _ in 0..3 {
            match Self::try_start(count, replicas, tls, args, cli_args)? {
                Ok(cluster) => return Some(cluster),
                Err(why) => {
                    eprintln!("a test cluster failed to form; making another: {why}");
                    failure = why;
                }
            }
        }
        panic!("{failure}");
    }

    fn try_start(
        count: usize,
        replicas: usize,
        tls: bool,
        args: &[&str],
        cli_args: &[&str],
    ) -> Option<Result<Self, String>> {
        let mut dirs = Vec::new();
        let mut servers = Vec::new();
        let mut node_args = Vec::new();
        for _ in 0..count {
            let dir = TempDir::new("redis-cluster");
            let bus = free_port().to_string();
            let cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", &bus];
            let own: Vec<String> =
                cluster.iter().chain(&["--appendonly", "no"]).chain(args).map(|a| (*a).to_owned()).collect();
            match RedisServer::try_start(&dir, 0, tls, &own.iter().map(String::as_str).collect::<Vec<_>>())? {
                Ok(server) => servers.push(server),
                Err(why) => return Some(Err(why)),
            }
            node_args.push(own);
            dirs.push(dir);
        }
        let cli = |port: Option<u16>| {
            let mut command = std::process::Command::new("redis-cli");
            command.args(cli_args);
            if let Some(port) = port {
                command.args(["-p", &port.to_string()]);
            }
            command
        };
        let nodes: Vec<String> = servers.iter().map(|s| format!("127.0.0.1:{}", s.port())).collect();
        let created = cli(None)
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli runs (it comes with redis-server)");
        if !created.status.success() {
            let (out, err) = (String::from_utf8_lossy(&created.stdout), String::from_utf8_lossy(&created.stderr));
            return Some(Err(format!("redis-cli --cluster create failed for {nodes:?}: {out}{err}")));
        }
        // Readiness of outside processes: ask each node until it says ok.
        let deadline = std::time::Instant::now() + WAIT;
        for server in &servers {
            loop {
                let info = cli(Some(server.port())).args(["cluster", "info"]).output().expect("redis-cli runs");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                if std::time::Instant::now() >= deadline {
                    return Some(Err(format!("the cluster on {nodes:?} did not become ok")));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let ports = servers.iter().map(RedisServer::port).collect();
        Some(Ok(Self { servers: servers.into_iter().map(Some).collect(), ports, tls, args: node_args, dirs }))
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.tls { "rediss" } else { "redis" };
        self.ports.iter().map(|port| format!("{scheme}://127.0.0.1:{port}")).collect()
    }

    /// The nodes' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.ports.clone()
    }

    /// Kills node `i` (0 holds slots 0 - 5460, 1 up to 10922, 2 the rest);
    /// its files stay in its directory.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(server) = self.servers[i].take() {
            server.stop();
        }
    }

    /// Starts node `i` again, on its port, from its directory (its
    /// `nodes.conf`, and its data if the nodes were started with persistence).
    pub fn start_node(&mut self, i: usize) {
        let args: Vec<&str> = self.args[i].iter().map(String::as_str).collect();
        self.servers[i] = Some(RedisServer::start(&self.dirs[i], self.ports[i], self.tls, &args).expect("restarts"));
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// The Postgres the tests use: `STEM_TEST_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`. `None` when it does not answer
/// (the caller skips, saying so), except under `CI=true`, where that fails.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("STEM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    server_answers("Postgres", &url, 5432).then_some(url)
}
