use stem::prelude::*;

#[stem::task(schedule = "cron: 0 8 * * 1-5 Europe/Paris")]
async fn morning() -> Result<(), TaskError> {
    Ok(())
}

#[stem::task(schedule = "solar: sunrise 48.8566 2.3522")]
async fn dawn() -> Result<(), TaskError> {
    Ok(())
}

/// An argument type with defaults of its own.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub days: u32,
    pub format: String,
}

impl Default for Report {
    fn default() -> Self {
        Self { days: 7, format: "pdf".to_owned() }
    }
}

#[stem::task(schedule = "cron: 0 6 * * MON")]
async fn weekly_report(report: Report) -> Result<u32, TaskError> {
    Ok(report.days)
}

#[stem::task(schedule = "cron: 0 3 * * SAT,SUN")]
async fn cleanup(older_than_days: u32, dry_run: bool, only: Option<String>) -> Result<(), TaskError> {
    let _ = (older_than_days, dry_run, only);
    Ok(())
}

fn main() {
    assert_eq!(Morning::OPTIONS.schedule, Some("cron: 0 8 * * 1-5 Europe/Paris"));
    assert_eq!(Dawn::OPTIONS.schedule, Some("solar: sunrise 48.8566 2.3522"));
    let schedule: stem::beat::Schedule = Morning::OPTIONS.schedule.unwrap_or_default().parse().expect("parses at run time too");
    assert_eq!(schedule.to_string(), "cron: 0 8 * * 1-5 Europe/Paris");

    // What each schedule enqueues: nothing, or each argument's default.
    let registry = stem::Registry::new().register::<Morning>().register::<WeeklyReport>().register::<Cleanup>();
    let args = |name: &str| registry.get(name).expect("registered").scheduled_args().expect("encodes");
    assert_eq!(args(Morning::NAME), serde_json::Value::Null);
    assert_eq!(args(WeeklyReport::NAME), serde_json::json!({ "days": 7, "format": "pdf" }));
    assert_eq!(args(Cleanup::NAME), serde_json::json!({ "older_than_days": 0, "dry_run": false, "only": null }));
}
