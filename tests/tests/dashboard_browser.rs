//! The web dashboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver), on a SQLite store. The overview follows tasks
//! being enqueued and run without a reload; a failed task's page, reached
//! from its dead letter, shows its error; replaying it through the dead
//! letters' confirmation form (which carries the CSRF token) makes it
//! succeed; a workflow run's page shows its steps in order. Every page seen
//! is saved as a PNG under `target/tmp/dashboard-browser/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them):
//! without them the test is skipped, saying so, except under `CI=true`,
//! where it fails.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, NewSessionError};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use stem::prelude::*;
use stem::{Stem, WorkerHandle};
use stem_cli::dashboard::{self, Config};
use stem_tests::{TempDir, TestResult, WAIT, free_port, until_ok, within};

#[stem::task(queue = "browser")]
async fn square(n: u32) -> Result<u32, TaskError> {
    Ok(n * n)
}

/// Set by the test once `flaky` has failed: its replay then succeeds.
static MENDED: AtomicBool = AtomicBool::new(false);

#[stem::task(queue = "browser", max_retries = 0)]
async fn flaky(n: u32) -> Result<u32, TaskError> {
    if MENDED.load(Ordering::SeqCst) { Ok(n) } else { Err(TaskError::fail(format!("flaky {n} is not mended yet"))) }
}

#[stem::workflow]
async fn pack(wf: WorkflowContext, order: String) -> Result<String, WorkflowError> {
    let picked = wf.step("pick", || async { Ok::<_, StepError>(3) }).await?;
    let parcel = wf.step("ship", || async { Ok::<_, StepError>(format!("parcel-{picked}")) }).await?;
    Ok(format!("{order}: {parcel}"))
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's flags (with a `--user-data-dir` of the test's own): headless,
/// without the sandbox, the GPU or `/dev/shm` (small in containers), without
/// any traffic of its own (first run, component updates, sync, QUIC), which
/// a closed network refuses, and with a fixed window size and language for
/// the screenshots.
const FLAGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=en-US",
];

/// chromedriver on a free port, in a process group of its own that the
/// browsers it starts join; the whole group is killed when dropped, then
/// the browser's profile directory removed.
struct Driver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl Driver {
    /// Starts chromedriver and waits until it accepts connections. `None`
    /// (the test skips, saying why) when Chromium or chromedriver is not
    /// installed, except under `CI=true`.
    fn start() -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
        if !missing.is_empty() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} not found, and CI=true requires it: run .ci/run, which installs Debian's chromium and chromium-driver",
                missing.join(" and ")
            );
            eprintln!(
                "skipped: {} not found; install Debian's chromium and chromium-driver (as .ci/run does) to run this test",
                missing.join(" and ")
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} does not start: {e}"));
        let mut driver = Self { child, port, profile: TempDir::new("chromium-profile") };
        // Readiness of an outside process: try to connect until it accepts.
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!("chromedriver on port {port} exited ({exit}); was the port taken?");
            }
            assert!(Instant::now() < deadline, "chromedriver did not accept connections on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(driver)
    }

    /// A new session: a headless Chromium of its own.
    async fn browser(&self) -> Result<Client, NewSessionError> {
        let mut args: Vec<String> = FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.push(format!("--user-data-dir={}", self.profile.file("").display()));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }) else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group: chromedriver and any browser a failed test left open.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The screenshots of one run, numbered in the order taken.
struct Shots {
    dir: PathBuf,
    saved: Vec<PathBuf>,
}

impl Shots {
    /// An emptied `dashboard-browser/` under cargo's temp dir for tests.
    fn new() -> std::io::Result<Self> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-browser");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, saved: Vec::new() })
    }

    /// Saves the browser's viewport as `NN-name.png`.
    async fn take(&mut self, browser: &Client, name: &str) -> TestResult {
        let png = browser.screenshot().await?;
        let path = self.dir.join(format!("{:02}-{name}.png", self.saved.len() + 1));
        std::fs::write(&path, png)?;
        self.saved.push(path);
        Ok(())
    }

    /// Every file written is a PNG with something in it.
    fn check(&self) {
        for path in &self.saved {
            let bytes = std::fs::read(path).unwrap_or_default();
            assert!(bytes.len() > 8 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
        }
    }
}

/// The text of the first element matching `css`, its white space collapsed.
async fn text(browser: &Client, css: &str) -> Result<String, CmdError> {
    Ok(words(&browser.find(Locator::Css(css)).await?.text().await?))
}

/// `text` with every run of white space (line breaks between blocks) one space.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Waits until the first element matching `css` has a text that `done` accepts.
async fn until_text(browser: &Client, what: &str, css: &str, done: impl Fn(&str) -> bool) -> String {
    until_ok(what, || async {
        match text(browser, css).await {
            Ok(text) if done(&text) => Ok(text),
            _ => Err(()),
        }
    })
    .await
}

/// The overview's row of queue `browser` (queue, ready, delayed, leased,
/// dead), once the live fragment shows it.
async fn queue_row(browser: &Client) -> Result<Vec<String>, CmdError> {
    let mut cells = Vec::new();
    for cell in browser.find_all(Locator::XPath("//div[@id='live']//tr[td[1]='browser']/td")).await? {
        cells.push(cell.text().await?);
    }
    Ok(cells)
}

/// Waits until the overview's `browser` row reads `expected`.
async fn until_row(browser: &Client, what: &str, expected: [&str; 5]) {
    until_ok(what, || async {
        match queue_row(browser).await {
            Ok(row) if row == expected => Ok(()),
            _ => Err(()),
        }
    })
    .await;
}

/// The value of the field `name` on a task's or a run's page.
async fn field(browser: &Client, name: &str) -> Result<String, CmdError> {
    let cell = browser.find(Locator::XPath(&format!("//table[@class='fields']//tr[th='{name}']/td"))).await?;
    Ok(words(&cell.text().await?))
}

/// The dead letters of queue `browser`.
async fn dead_count(stem: &Stem) -> usize {
    let queues = stem.queue_stats().expect("stats").queues().await.expect("queues");
    queues.iter().find(|q| q.queue == "browser").map_or(0, |q| q.dead)
}

/// Clicks the first element matching `css`.
async fn click(browser: &Client, css: &str) -> Result<(), CmdError> {
    browser.find(Locator::Css(css)).await?.click().await
}

fn worker(stem: &Stem) -> WorkerHandle {
    Worker::builder(stem)
        .queues(["browser", "default"])
        .concurrency(4)
        .heartbeat_interval(Duration::from_millis(100))
        .workflow_poll_interval(Duration::from_millis(20))
        .handle_signals(false)
        .build()
        .expect("a valid worker")
        .spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_follows_tasks_replays_a_dead_letter_and_reads_a_run_in_chromium() -> TestResult {
    let Some(driver) = Driver::start() else { return Ok(()) };
    let dir = TempDir::new("dashboard-browser");
    let stem = stem_adapters::connect(&format!("sqlite://{}", dir.file("stem.db").display())).await?;
    let dashboard = dashboard::serve(stem.clone(), Config::new("127.0.0.1:0".parse()?)).await?;
    let base = format!("http://{}", dashboard.addr());
    let browser = driver.browser().await?;
    let mut shots = Shots::new()?;

    // The overview of an empty store.
    browser.goto(&format!("{base}/")).await?;
    assert_eq!(text(&browser, "h1").await?, "Overview");
    assert_eq!(text(&browser, "#live .card").await?, "0 workers alive");
    assert_eq!(text(&browser, "#live section:nth-of-type(2) p").await?, "No queues yet.");
    shots.take(&browser, "overview-empty").await?;
    // A mark on this page's window: still there later, the page was not reloaded.
    browser.execute("window.stemMark = 'not reloaded'; return true;", vec![]).await?;

    // Tasks enqueued, no worker yet: the live fragment shows them ready.
    let mut squares = Vec::new();
    for n in [2, 3, 4] {
        squares.push(Square::enqueue(&stem, n).await?);
    }
    let broken = Flaky::enqueue(&stem, 7).await?;
    until_row(&browser, "the overview to show 4 ready tasks", ["browser", "4", "0", "0", "0"]).await;
    shots.take(&browser, "overview-queued").await?;

    // A worker runs them: three succeed, one is dead-lettered.
    let worker = worker(&stem);
    for (square, n) in squares.into_iter().zip([2_u32, 3, 4]) {
        assert_eq!(within("a square", square.wait()).await?, n * n);
    }
    until_row(&browser, "the overview to show the dead letter", ["browser", "0", "0", "0", "1"]).await;
    until_text(&browser, "the worker on the overview", "#live .card", |t| t == "1 workers alive").await;
    let mark = browser.execute("return window.stemMark;", vec![]).await?;
    assert_eq!(mark, json!("not reloaded"), "the overview updated its fragment, not the page");
    shots.take(&browser, "overview-worked").await?;

    // From the dead letters to the failed task's page.
    let id = broken.id().to_string();
    browser.find(Locator::LinkText("Dead letters")).await?.click().await?;
    until_text(&browser, "the dead letters' queues", "h1", |t| t == "Dead letters").await;
    click(&browser, "main a[href='/dead-letters/browser']").await?;
    until_text(&browser, "the queue's dead letters", "h1", |t| t == "Dead letters of `browser`").await;
    let row = text(&browser, "main table tbody tr").await?;
    assert!(row.contains(&id) && row.contains("flaky"), "the task: {row}");
    assert!(row.contains("flaky 7 is not mended yet"), "the reason: {row}");
    shots.take(&browser, "dead-letters").await?;
    click(&browser, &format!("main a[href='/tasks/{id}']")).await?;
    until_text(&browser, "the failed task's page", "h1", |t| t == format!("Task {id}")).await;
    assert_eq!(field(&browser, "State").await?, "failed");
    assert_eq!(field(&browser, "Error").await?, "fail: flaky 7 is not mended yet");
    assert!(text(&browser, "main > p").await?.starts_with("Dead-lettered"), "the dead letter");
    shots.take(&browser, "task-failed").await?;

    // Ticked and replayed through the confirmation page's form, it runs again
    // and succeeds.
    MENDED.store(true, Ordering::SeqCst);
    browser.find(Locator::LinkText("Its queue's dead letters")).await?.click().await?;
    until_text(&browser, "the queue's dead letters", "h1", |t| t == "Dead letters of `browser`").await;
    assert!(
        browser
            .find(Locator::Css(&format!("main a[href='/dead-letters/browser/confirm?action=replay&id={id}']")))
            .await
            .is_ok(),
        "a replay link per row"
    );
    click(&browser, &format!("main input[type='checkbox'][name='id'][value='{id}']")).await?;
    click(&browser, "main button[name='action'][value='replay']").await?;
    until_text(&browser, "the confirmation page", "h1", |t| t.starts_with("Replay: ")).await;
    assert_eq!(text(&browser, "main > p").await?, "Replay 1 dead letter?");
    let token = browser.find(Locator::Css("main form input[name='csrf']")).await?.attr("value").await?;
    assert!(token.is_some_and(|t| t.len() >= 32), "the form carries the CSRF token");
    assert_eq!(dead_count(&stem).await, 1, "confirming changes nothing");
    shots.take(&browser, "replay-confirm").await?;
    click(&browser, "main form button[type='submit']").await?;
    let done = until_text(&browser, "the replay's outcome", "p.done", |_| true).await;
    assert_eq!(done, "replayed 1 dead letter(s)");
    shots.take(&browser, "replayed").await?;
    until_ok("the replayed task's page to show it succeeded", || async {
        browser.goto(&format!("{base}/tasks/{id}")).await.map_err(drop)?;
        match field(&browser, "State").await {
            Ok(state) if state == "succeeded" => Ok(()),
            _ => Err(()),
        }
    })
    .await;
    assert_eq!(field(&browser, "Result").await?, "7");
    assert_eq!(dead_count(&stem).await, 0, "no dead letter left");
    shots.take(&browser, "task-succeeded").await?;
    assert_eq!(within("the replayed task", broken.wait()).await?, 7);

    // A workflow run, from the list to its timeline.
    let run = Pack::start(&stem, "order-9".into()).await?;
    assert_eq!(within("the run", run.wait()).await?, "order-9: parcel-3");
    browser.find(Locator::LinkText("Workflows")).await?.click().await?;
    let link = format!("main a[href='/workflows/runs/{}']", run.id());
    until_ok("the run in the list", || async { browser.find(Locator::Css(&link)).await.map(drop) }).await;
    shots.take(&browser, "workflows").await?;
    click(&browser, &link).await?;
    until_text(&browser, "the run's page", "h1", |t| t == format!("Run {}", run.id())).await;
    assert_eq!(field(&browser, "Status").await?, "completed");
    let mut steps = Vec::new();
    for step in browser.find_all(Locator::Css("ol.timeline li strong")).await? {
        steps.push(step.text().await?);
    }
    assert_eq!(steps, ["pick#0", "ship#0"], "the timeline, in order");
    let timeline = text(&browser, "ol.timeline").await?;
    assert!(timeline.contains("\"parcel-3\""), "the steps' values: {timeline}");
    shots.take(&browser, "workflow-run").await?;

    browser.close().await?;
    worker.stop(ShutdownMode::Hard).await?;
    dashboard.stop().await;
    drop(driver);
    assert_eq!(shots.saved.len(), 10, "a screenshot of each page seen");
    shots.check();
    Ok(())
}
