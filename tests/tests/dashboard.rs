//! The web dashboard over real HTTP: every page renders for an empty and a
//! busy store (memory, SQLite, and Redis and Postgres when they answer);
//! without credentials, as a viewer, without the CSRF token or by GET, an
//! action is refused and changes nothing; an operator replays a dead letter
//! and it runs; an operator replays and purges exactly the dead letters
//! ticked, on every store, and nobody else can; a public address without credentials is refused, saying how
//! to configure them; hidden tasks show no values; tasks are listed by name
//! and state, a page at a time, on every store (Redis with its listing on;
//! without it the page says the store cannot list, and the id search works).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use stem::backend::TaskStatus;
use stem::beat::{Schedule, ScheduleEntry};
use stem::prelude::*;
use stem::workflow::RunStatus;
use stem::{Stem, TaskState, WorkerHandle};
use stem_cli::dashboard::{self, Config, Dashboard};
use stem_tests::{TestResult, WAIT, every_store, until_ok};

#[stem::task(queue = "dash")]
async fn double(n: u32) -> Result<u32, TaskError> {
    Ok(n * 2)
}

/// Fails for good while `BROKEN` is set.
static BROKEN: AtomicBool = AtomicBool::new(true);

#[stem::task(queue = "dash", max_retries = 0)]
async fn fragile(n: u32) -> Result<u32, TaskError> {
    if BROKEN.load(Ordering::SeqCst) { Err(TaskError::fail(format!("fragile {n} broke"))) } else { Ok(n) }
}

#[stem::task(queue = "dash", max_retries = 0)]
async fn doomed(n: u32) -> Result<u32, TaskError> {
    Err(TaskError::fail(format!("doomed {n}")))
}

#[stem::task(queue = "dash")]
async fn secret_sum(a: u32, b: u32) -> Result<u32, TaskError> {
    Ok(a * 1000 + b)
}

#[stem::workflow]
async fn greet(wf: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    let now = wf.now().await;
    wf.sleep(Duration::from_secs(3600)).await;
    Ok(format!("hello {name} at {now}"))
}

fn worker(stem: &Stem) -> WorkerHandle {
    Worker::builder(stem)
        .queues(["dash", "default"])
        .concurrency(4)
        .heartbeat_interval(Duration::from_millis(100))
        .workflow_poll_interval(Duration::from_millis(20))
        .handle_signals(false)
        .build()
        .expect("a valid worker")
        .spawn()
}

/// A small HTTP client for one visitor: its credentials and its session cookie.
struct Visitor {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
    cookie: Option<String>,
}

impl Visitor {
    fn new(dashboard: &Dashboard, auth: Option<String>) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { http, base: format!("http://{}", dashboard.addr()), auth, cookie: None }
    }

    fn bearer(dashboard: &Dashboard, token: &str) -> Self {
        Self::new(dashboard, Some(format!("Bearer {token}")))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        request
    }

    fn keep_cookie(&mut self, response: &reqwest::Response) {
        if let Some(set) = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "cookie flags: {set}");
            self.cookie = set.split(';').next().map(str::to_owned);
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self.request(reqwest::Method::GET, path).send().await.expect("GET");
        self.keep_cookie(&response);
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// A page that must render: its body.
    async fn page(&mut self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        let response = self
            .request(reqwest::Method::POST, path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .expect("POST");
        self.keep_cookie(&response);
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Logs in through the form with `token`.
    async fn login(dashboard: &Dashboard, token: &str) -> Self {
        let mut visitor = Self::new(dashboard, None);
        let (status, _) = visitor.post("/login", &[("token", token)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login");
        assert!(visitor.cookie.is_some(), "login sets a cookie");
        visitor
    }
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The CSRF token of the first form in `html`.
fn csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a CSRF field in the page") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap_or_default().to_owned()
}

const PAGES: [&str; 9] = [
    "/",
    "/fragments/overview",
    "/tasks",
    "/dead-letters",
    "/dead-letters/dash",
    "/workers",
    "/workflows",
    "/workflows?status=suspended",
    "/schedules",
];

async fn dead_count(stem: &Stem) -> usize {
    stem.queue_stats()
        .expect("stats")
        .queues()
        .await
        .expect("queues")
        .iter()
        .find(|q| q.queue == "dash")
        .map_or(0, |q| q.dead)
}

async fn until_dead(stem: &Stem, n: usize) {
    until_ok("the dead letter", || async { if dead_count(stem).await == n { Ok(()) } else { Err(()) } }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_an_empty_and_a_busy_store() -> TestResult {
    for env in every_store("dashboard").await {
        let (label, stem) = (env.label, env.stem.clone());
        let config = Config::new("127.0.0.1:0".parse()?).sample_every(Duration::from_millis(100));
        let dashboard = dashboard::serve(stem.clone(), config).await?;
        let mut visitor = Visitor::new(&dashboard, None);
        for path in PAGES {
            let body = visitor.page(path).await;
            assert!(!body.contains("the store failed"), "{label}: {path}: {body}");
        }

        let worker = worker(&stem);
        let ok = Double::enqueue(&stem, 21).await?;
        let dead = Doomed::enqueue(&stem, 7).await?;
        assert_eq!(ok.clone().wait().await?, 42, "{label}");
        until_dead(&stem, 1).await;
        let run = Greet::start(&stem, "ada".into()).await?;
        until_ok("the run suspends", || async {
            match run.status().await {
                Ok(Some(state)) if state.status == RunStatus::Suspended => Ok(()),
                _ => Err(()),
            }
        })
        .await;
        let entry = ScheduleEntry::new("dash-hourly", Double::call(1), Schedule::every(Duration::from_secs(3600))?)?;
        stem.schedules().put(&entry).await?;
        until_ok("a heartbeat", || async {
            if stem.backend().list_heartbeats().await.map_or(0, |b| b.len()) > 0 { Ok(()) } else { Err(()) }
        })
        .await;

        for path in PAGES {
            visitor.page(path).await;
        }
        let overview = visitor.page("/").await;
        assert!(overview.contains("<td>dash</td>") && overview.contains("workers alive"), "{label}: {overview}");
        assert!(overview.contains("<svg"), "{label}: the chart");
        let task = visitor.page(&format!("/tasks/{}", ok.id())).await;
        assert!(task.contains("succeeded") && task.contains("42"), "{label}: {task}");
        // A chain's second step links to its first.
        let chained = stem::canvas::chain(Double::call(1)).then(Double::link()).enqueue(&stem).await?;
        assert_eq!(chained.wait_timeout(Duration::from_secs(10)).await?, 4, "{label}");
        let second = visitor.page(&format!("/tasks/{}", chained.id())).await;
        assert!(second.contains("Chain / canvas root") && second.contains("Enqueued by"), "{label}: {second}");
        let failed = visitor.page(&format!("/tasks/{}", dead.id())).await;
        assert!(failed.contains("doomed 7") && failed.contains("Dead-lettered"), "{label}: {failed}");
        let letters = visitor.page("/dead-letters/dash").await;
        assert!(letters.contains(&dead.id().to_string()) && letters.contains("doomed 7"), "{label}: {letters}");
        visitor.page(&format!("/dead-letters/dash/confirm?action=replay&id={}", dead.id())).await;
        visitor.page("/dead-letters/dash/confirm?action=purge&since=1h").await;
        let runs = visitor.page("/workflows").await;
        assert!(runs.contains(&run.id().to_string()), "{label}: {runs}");
        let shown = visitor.page(&format!("/workflows/runs/{}", run.id())).await;
        assert!(shown.contains("suspended") && shown.contains("ada"), "{label}: {shown}");
        let schedules = visitor.page("/schedules").await;
        assert!(schedules.contains("dash-hourly") && schedules.contains("every 1h"), "{label}: {schedules}");
        let workers = visitor.page("/workers").await;
        assert!(workers.contains(worker.id()), "{label}: {workers}");
        assert_eq!(visitor.get("/tasks/not-an-id").await.0, StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(visitor.get(&format!("/tasks/{}", stem::TaskId::new())).await.0, StatusCode::NOT_FOUND, "{label}");

        // Looking (GET), even at an action's URL, changes nothing.
        assert_eq!(visitor.get("/dead-letters/dash/purge").await.0, StatusCode::METHOD_NOT_ALLOWED, "{label}");
        assert_eq!(dead_count(&stem).await, 1, "{label}");

        worker.stop(ShutdownMode::Hard).await?;
        dashboard.stop().await;
        env.clean().await?;
    }
    Ok(())
}

const OPERATOR: &str = "operator-token-0123456789abcdef";
const VIEWER: &str = "viewer-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_operator_with_the_csrf_token_changes_anything() -> TestResult {
    let stem = Stem::in_memory();
    let worker = worker(&stem);
    let broken = Fragile::enqueue(&stem, 5).await?;
    until_dead(&stem, 1).await;
    let run = Greet::start(&stem, "bob".into()).await?;
    let entry = ScheduleEntry::new("dash-daily", Double::call(2), Schedule::every(Duration::from_secs(86_400))?)?;
    stem.schedules().put(&entry).await?;
    let config = Config::new("127.0.0.1:0".parse()?)
        .operator_token(OPERATOR)
        .viewer_token(VIEWER)
        .basic("admin", "pass-word-42");
    let dashboard = dashboard::serve(stem.clone(), config).await?;
    let id = broken.id().to_string();
    let actions = [
        "/dead-letters/dash/replay".to_owned(),
        "/dead-letters/dash/purge".to_owned(),
        "/workers/ping".to_owned(),
        format!("/workers/{}/shutdown", worker.id()),
        format!("/workflows/runs/{}/cancel", run.id()),
        "/schedules/dash-daily/disable".to_owned(),
    ];
    let unchanged = || async {
        assert_eq!(dead_count(&stem).await, 1, "the dead letter is still there");
        assert!(stem.schedules().get("dash-daily").await.expect("get").expect("there").enabled, "still enabled");
        assert_ne!(run.status().await.expect("status").expect("run").status, RunStatus::Cancelled, "not cancelled");
    };

    // Nobody: pages go to the login form, actions are 401.
    let mut nobody = Visitor::new(&dashboard, None);
    for path in PAGES {
        let (status, _) = nobody.get(path).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "GET {path} without credentials");
    }
    let response = nobody.request(reqwest::Method::GET, "/").send().await?;
    assert_eq!(response.headers().get(LOCATION).and_then(|v| v.to_str().ok()), Some("/login"));
    assert!(nobody.cookie.is_none(), "no session for a stranger");
    for path in &actions {
        assert_eq!(
            nobody.post(path, &[("id", &id), ("confirm", "yes")]).await.0,
            StatusCode::UNAUTHORIZED,
            "POST {path}"
        );
    }
    assert_eq!(Visitor::bearer(&dashboard, "wrong").get("/").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(Visitor::new(&dashboard, None).post("/login", &[("token", "wrong")]).await.0, StatusCode::UNAUTHORIZED);
    assert!(nobody.page("/login").await.contains("Token"));
    unchanged().await;

    // A viewer reads every page, and is refused every action, with its own CSRF token.
    let mut viewer = Visitor::login(&dashboard, VIEWER).await;
    for path in PAGES {
        viewer.page(path).await;
    }
    let page = viewer.page("/dead-letters/dash").await;
    assert!(!page.contains("Replay…"), "a viewer sees no action links");
    let token = csrf(&page);
    for path in &actions {
        let (status, body) =
            viewer.post(path, &[("csrf", &token), ("id", &id), ("confirm", "yes"), ("mode", "hard")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "viewer POST {path}: {body}");
    }
    assert_eq!(Visitor::bearer(&dashboard, VIEWER).post(&actions[1], &[("id", &id)]).await.0, StatusCode::FORBIDDEN);
    unchanged().await;

    // An operator without the CSRF token, with a wrong one, or with another session's: refused.
    let mut operator = Visitor::login(&dashboard, OPERATOR).await;
    for path in &actions {
        for fields in [
            vec![("id", id.as_str()), ("confirm", "yes")],
            vec![("csrf", "0000"), ("id", id.as_str()), ("confirm", "yes")],
            vec![("csrf", token.as_str()), ("id", id.as_str()), ("confirm", "yes")],
        ] {
            let (status, body) = operator.post(path, &fields).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "operator POST {path} {fields:?}: {body}");
        }
    }
    // A GET of an action's URL is refused, or (shutdown) shows its confirmation page.
    for path in &actions {
        let expected = if path.ends_with("/shutdown") { StatusCode::OK } else { StatusCode::METHOD_NOT_ALLOWED };
        assert_eq!(operator.get(path).await.0, expected, "GET {path}");
    }
    unchanged().await;
    let basic = format!("Basic {}", "YWRtaW46cGFzcy13b3JkLTQy"); // admin:pass-word-42
    assert_eq!(Visitor::new(&dashboard, Some(basic)).get("/").await.0, StatusCode::OK);
    assert_eq!(
        Visitor::new(&dashboard, Some("Basic YWRtaW46bm9wZQ==".into())).get("/").await.0,
        StatusCode::UNAUTHORIZED
    );

    // The operator (bearer token) confirms a replay of that one dead letter, and it runs.
    BROKEN.store(false, Ordering::SeqCst);
    let mut bearer = Visitor::bearer(&dashboard, OPERATOR);
    let confirm = bearer.page(&format!("/dead-letters/dash/confirm?action=replay&id={id}")).await;
    assert!(confirm.contains(&id) && confirm.contains("Replay 1 dead letter"), "{confirm}");
    assert_eq!(dead_count(&stem).await, 1, "confirming changes nothing");
    let (status, _) = bearer.post("/dead-letters/dash/replay", &[("csrf", &csrf(&confirm)), ("id", &id)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(tokio::time::timeout(WAIT, broken.clone().wait()).await??, 5, "the replayed task ran");
    assert_eq!(dead_count(&stem).await, 0);
    let state = stem.handle::<u32>(broken.id()).status().await?.map(|s| s.state);
    assert_eq!(state, Some(TaskState::Succeeded));

    // And disables the schedule, logged in.
    let page = operator.page("/schedules").await;
    let (status, _) = operator.post("/schedules/dash-daily/disable", &[("csrf", &csrf(&page))]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!stem.schedules().get("dash-daily").await?.expect("there").enabled);

    // And shuts the worker down through the control plane.
    let confirm = operator.page(&format!("/workers/{}/shutdown", worker.id())).await;
    let path = format!("/workers/{}/shutdown", worker.id());
    let (status, body) = operator.post(&path, &[("csrf", &csrf(&confirm)), ("mode", "warm")]).await;
    assert!(status == StatusCode::OK && body.contains("is shutting down"), "{status}: {body}");
    tokio::time::timeout(WAIT, worker.join()).await??;

    dashboard.stop().await;
    Ok(())
}

/// The task ids of queue `dash`'s dead letters, sorted.
async fn dead_ids(stem: &Stem) -> Vec<String> {
    let page = stem.dead_letters().expect("dead letters").list_dead_letters("dash", 100, 0).await.expect("list");
    let mut ids: Vec<String> = page.entries.iter().map(|d| d.envelope.id.to_string()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).clone()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_and_purges_exactly_the_dead_letters_ticked() -> TestResult {
    for env in every_store("dashboard-ticked").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let mut handles = Vec::new();
        for n in 0..5 {
            handles.push(Doomed::enqueue(&stem, n).await?);
        }
        until_dead(&stem, 5).await;
        worker.stop(ShutdownMode::Hard).await?; // so that a replayed task stays queued
        let ids: Vec<String> = handles.iter().map(|h| h.id().to_string()).collect();
        let (a, b, c, d, e) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
        let config = Config::new("127.0.0.1:0".parse()?).operator_token(OPERATOR).viewer_token(VIEWER);
        let dashboard = dashboard::serve(stem.clone(), config).await?;
        let two = [("id", a.as_str()), ("id", b.as_str())];

        // The operator's list has a checkbox per row and the two buttons; the viewer's has neither.
        let mut operator = Visitor::bearer(&dashboard, OPERATOR);
        let list = operator.page("/dead-letters/dash").await;
        for id in &ids {
            assert!(list.contains(&format!(r#"type="checkbox" name="id" value="{id}""#)), "{label}: {list}");
        }
        assert!(list.contains("Replay selected…") && list.contains("Purge selected…"), "{label}: {list}");
        let mut viewer = Visitor::login(&dashboard, VIEWER).await;
        let seen = viewer.page("/dead-letters/dash").await;
        assert!(!seen.contains(r#"type="checkbox""#) && !seen.contains("Replay selected"), "{label}: {seen}");

        // Nobody and the viewer (with its own CSRF token) are refused a selection; nothing changes.
        let token = csrf(&seen);
        for path in ["/dead-letters/dash/replay", "/dead-letters/dash/purge"] {
            let (status, _) = Visitor::new(&dashboard, None).post(path, &two).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: POST {path}");
            let (status, body) = viewer.post(path, &[("csrf", token.as_str()), two[0], two[1]]).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{label}: viewer POST {path}: {body}");
        }
        assert_eq!(dead_ids(&stem).await, sorted(&[a, b, c, d, e]), "{label}: nothing changed");

        // Ticking nothing is refused; an unknown id selects nothing.
        let none = operator.get("/dead-letters/dash/confirm?action=replay&selected=1").await;
        assert_eq!(none.0, StatusCode::BAD_REQUEST, "{label}: {}", none.1);
        let unknown = stem::TaskId::new().to_string();
        let page = operator.page(&format!("/dead-letters/dash/confirm?action=purge&selected=1&id={unknown}")).await;
        assert!(page.contains("the selection is empty") && page.contains(&unknown), "{label}: {page}");

        // Two of them ticked and replayed: the confirmation lists exactly those, and only they go back.
        let confirm =
            operator.page(&format!("/dead-letters/dash/confirm?action=replay&selected=1&id={a}&id={b}")).await;
        assert!(confirm.contains("Replay 2 dead letters"), "{label}: {confirm}");
        assert!(confirm.contains(a.as_str()) && confirm.contains(b.as_str()), "{label}: {confirm}");
        assert!(![c, d, e].iter().any(|id| confirm.contains(id.as_str())), "{label}: only those: {confirm}");
        assert_eq!(dead_ids(&stem).await.len(), 5, "{label}: confirming changes nothing");
        let (status, _) =
            operator.post("/dead-letters/dash/purge", &[("csrf", &csrf(&confirm)), ("id", &unknown)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{label}");
        assert_eq!(dead_ids(&stem).await.len(), 5, "{label}: an unknown id purges nothing");
        let (status, _) =
            operator.post("/dead-letters/dash/replay", &[("csrf", &csrf(&confirm)), two[0], two[1]]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{label}");
        assert_eq!(dead_ids(&stem).await, sorted(&[c, d, e]), "{label}: the others stay dead");
        for (handle, state) in handles.iter().zip([TaskState::Queued, TaskState::Queued, TaskState::Failed]) {
            let now = stem.backend().get(handle.id()).await?.map(|s| s.state);
            assert_eq!(now, Some(state), "{label}: task {}", handle.id());
        }
        let queued = stem.queue_stats()?.queues().await?.into_iter().find(|q| q.queue == "dash").map(|q| q.ready);
        assert_eq!(queued, Some(2), "{label}: the two replayed are ready again");

        // Two ticked and purged: exactly those go.
        let confirm = operator.page(&format!("/dead-letters/dash/confirm?action=purge&selected=1&id={c}&id={e}")).await;
        assert!(confirm.contains("Purge for good 2 dead letters"), "{label}: {confirm}");
        let fields = [("csrf", csrf(&confirm)), ("id", c.clone()), ("id", e.clone())];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = operator.post("/dead-letters/dash/purge", &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{label}");
        assert_eq!(dead_ids(&stem).await, sorted(&[d]), "{label}: only the one not ticked is left");

        dashboard.stop().await;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_address_needs_credentials() -> TestResult {
    let stem = Stem::in_memory();
    let refused = dashboard::serve(stem.clone(), Config::new("0.0.0.0:0".parse()?)).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("STEM_DASHBOARD_TOKEN") && message.contains("STEM_DASHBOARD_USER"), "{message}");
    let served = dashboard::serve(stem.clone(), Config::new("0.0.0.0:0".parse()?).operator_token(OPERATOR)).await?;
    served.stop().await;

    // Without credentials, on loopback, a request for another host (DNS rebinding) is refused.
    let open = dashboard::serve(stem, Config::new("127.0.0.1:0".parse()?)).await?;
    let visitor = Visitor::new(&open, None);
    let response = visitor.request(reqwest::Method::GET, "/").header(HOST, "evil.example").send().await?;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    open.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_tasks_show_no_values() -> TestResult {
    let stem = Stem::in_memory();
    let worker = worker(&stem);
    let handle = SecretSum::enqueue(&stem, SecretSumArgs { a: 31, b: 337 }).await?;
    assert_eq!(handle.clone().wait().await?, 31_337);
    let config = Config::new("127.0.0.1:0".parse()?).hide(["*secret*"]);
    let dashboard = dashboard::serve(stem.clone(), config).await?;
    let page = Visitor::new(&dashboard, None).page(&format!("/tasks/{}", handle.id())).await;
    assert!(page.contains("hidden") && !page.contains("31337"), "{page}");
    worker.stop(ShutdownMode::Hard).await?;
    dashboard.stop().await;
    Ok(())
}

/// The `href` of the page's next-page link, unescaped, if it has one.
fn next_link(html: &str) -> Option<String> {
    let at = html.find(r#"rel="next" href=""#)? + r#"rel="next" href=""#.len();
    html[at..].split('"').next().map(|href| href.replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_listed_by_name_and_state_on_every_store() -> TestResult {
    for env in every_store("dashboard-listing").await {
        let (label, stem) = (env.label, env.stem.clone());
        let dashboard = dashboard::serve(stem.clone(), Config::new("127.0.0.1:0".parse()?)).await?;
        let mut visitor = Visitor::new(&dashboard, None);
        let worker = worker(&stem);
        let ok = Double::enqueue(&stem, 5).await?;
        let dead = Doomed::enqueue(&stem, 6).await?;
        assert_eq!(ok.clone().wait().await?, 10, "{label}");
        let failed = stem.backend().wait(dead.id(), WAIT).await?.map(|s| s.state);
        assert_eq!(failed, Some(TaskState::Failed), "{label}");
        let (ok_id, dead_id) = (ok.id().to_string(), dead.id().to_string());
        let by_name = visitor.page(&format!("/tasks?task={}&state=", enc(Double::NAME))).await;
        assert!(
            stem.backend().listing().is_some(),
            "{label}: every store here lists (Redis and SQL with task_listing)"
        );
        assert!(by_name.contains(&ok_id) && !by_name.contains(&dead_id), "{label}: by name: {by_name}");
        let by_state = visitor.page("/tasks?state=failed").await;
        assert!(by_state.contains(&dead_id) && !by_state.contains(&ok_id), "{label}: by state: {by_state}");
        let both = visitor.page(&format!("/tasks?task={}&state=failed", enc(Doomed::NAME))).await;
        assert!(both.contains(&dead_id), "{label}: by name and state: {both}");
        let neither = visitor.page(&format!("/tasks?task={}&state=failed", enc(Double::NAME))).await;
        assert!(neither.contains("No tasks match") && !neither.contains(&ok_id), "{label}: {neither}");
        assert_eq!(visitor.get("/tasks?state=lost").await.0, StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(visitor.get("/tasks?after=nonsense").await.0, StatusCode::BAD_REQUEST, "{label}");

        // 55 statuses of one name: a page of 50, then the next page's 5.
        let now = chrono::Utc::now();
        let paged: Vec<TaskStatus> = (0..55)
            .map(|i| {
                let mut s = TaskStatus::new(stem::TaskId::new(), "dash.paged", "dash", TaskState::Succeeded);
                s.updated_at = now - chrono::Duration::seconds(i);
                s
            })
            .collect();
        stem.backend().set_batch(&mut paged.clone()).await?;
        let first = visitor.page("/tasks?task=dash.paged").await;
        let listed = |html: &str, s: &TaskStatus| html.contains(&s.id.to_string());
        assert!(paged[..50].iter().all(|s| listed(&first, s)), "{label}: the newest 50 first");
        assert!(!paged[50..].iter().any(|s| listed(&first, s)), "{label}: not the older ones");
        let next = next_link(&first).expect("a next-page link");
        let second = visitor.page(&next).await;
        assert!(paged[50..].iter().all(|s| listed(&second, s)), "{label}: the rest on the next page");
        assert!(!paged[..50].iter().any(|s| listed(&second, s)), "{label}: once each");
        assert_eq!(next_link(&second), None, "{label}: the last page");
        worker.stop(ShutdownMode::Hard).await?;
        dashboard.stop().await;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_the_listing_says_so_and_searches_by_id() -> TestResult {
    let Some(url) = stem_tests::redis_url() else { return Ok(()) };
    let namespace = format!("t_dashboard_unlisted_{:08x}", fastrand::u32(..));
    let options = stem_adapters::redis::RedisOptions::new(url).with_namespace(namespace);
    let store = stem_adapters::redis::RedisStore::connect_with(options).await?;
    let stem = Stem::new(store.stores());
    assert!(stem.backend().listing().is_none(), "off by default");
    let dashboard = dashboard::serve(stem.clone(), Config::new("127.0.0.1:0".parse()?)).await?;
    let mut visitor = Visitor::new(&dashboard, None);
    let worker = worker(&stem);
    let ok = Double::enqueue(&stem, 5).await?;
    assert_eq!(ok.clone().wait().await?, 10);
    let by_name = visitor.page(&format!("/tasks?task={}&state=", enc(Double::NAME))).await;
    assert!(by_name.contains("cannot list tasks by name or state"), "{by_name}");
    assert!(!by_name.contains(&ok.id().to_string()), "nothing listed");
    let (status, _) = visitor.get(&format!("/tasks?id={}", ok.id())).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the id search still works");
    worker.stop(ShutdownMode::Hard).await?;
    dashboard.stop().await;
    store.delete_namespace().await?;
    Ok(())
}

/// Adds up a chord's outputs.
#[stem::task(queue = "dash")]
async fn total(values: Vec<u32>) -> Result<u32, TaskError> {
    Ok(values.iter().sum())
}

/// The first `href` in `html` that starts with `prefix`.
fn link(html: &str, prefix: &str) -> Option<String> {
    let at = html.find(&format!(r#"href="{prefix}"#))? + r#"href=""#.len();
    html[at..].split('"').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_page_shows_kept_arguments_and_links_to_its_chord_group() -> TestResult {
    for env in every_store("dash-args").await {
        let label = env.label;
        let stem = env.stem.with_kept_args(true);
        let worker = worker(&stem);
        let dashboard = dashboard::serve(stem.clone(), Config::new("127.0.0.1:0".parse()?).hide(["*secret*"])).await?;
        let mut visitor = Visitor::new(&dashboard, None);

        let kept = Double::enqueue(&stem, 4321).await?;
        assert_eq!(kept.clone().wait_timeout(WAIT).await?, 8642, "{label}");
        let page = visitor.page(&format!("/tasks/{}", kept.id())).await;
        assert!(page.contains("4321") && page.contains("8642"), "{label}: arguments and result after the run: {page}");
        let secret = SecretSum::enqueue(&stem, SecretSumArgs { a: 31, b: 337 }).await?;
        assert_eq!(secret.clone().wait_timeout(WAIT).await?, 31_337, "{label}");
        let page = visitor.page(&format!("/tasks/{}", secret.id())).await;
        assert!(
            page.contains("hidden") && !page.contains("337"),
            "{label}: a hidden task's kept arguments stay hidden"
        );
        let plain = Double::enqueue(&env.stem, 1234).await?;
        assert_eq!(plain.clone().wait_timeout(WAIT).await?, 2468, "{label}");
        let page = visitor.page(&format!("/tasks/{}", plain.id())).await;
        assert!(page.contains("with_kept_args") && !page.contains("1234"), "{label}: not kept, and says how: {page}");

        let header = stem::canvas::group([Double::call(1), Double::call(2), Double::call(3)]);
        let sum = stem::canvas::chord(header, Total::link()).enqueue(&stem).await?;
        assert_eq!(sum.wait_timeout(WAIT).await?, 12, "{label}");
        let listing = visitor.page(&format!("/tasks?task={}&state=succeeded", enc(Double::NAME))).await;
        let members: Vec<String> = listing
            .match_indices(r#"href="/tasks/"#)
            .filter_map(|(at, _)| listing[at + 6..].split('"').next().map(str::to_owned))
            .collect();
        let mut group_page = None;
        for member in &members {
            if let Some(group) = link(&visitor.page(member).await, "/groups/") {
                group_page = Some(visitor.page(&group).await);
                break;
            }
        }
        let group_page = group_page.unwrap_or_else(|| panic!("{label}: no member links to its group: {members:?}"));
        assert!(group_page.contains("3 of 3 members finished"), "{label}: {group_page}");
        assert!(link(&group_page, "/tasks/").is_some() && group_page.contains("Chord callback"), "{label}");
        assert_eq!(visitor.get(&format!("/groups/{}", stem::TaskId::new())).await.0, StatusCode::NOT_FOUND, "{label}");

        worker.stop(ShutdownMode::Hard).await?;
        dashboard.stop().await;
        env.clean().await?;
    }
    Ok(())
}
