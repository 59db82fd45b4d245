use stem::prelude::*;

#[stem::task(schedule = "cron: 0 8 * * 1-5 Europe/Paris")]
async fn morning() -> Result<(), TaskError> {
    Ok(())
}

#[stem::task(schedule = "solar: sunrise 48.8566 2.3522")]
async fn dawn() -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    assert_eq!(Morning::OPTIONS.schedule, Some("cron: 0 8 * * 1-5 Europe/Paris"));
    assert_eq!(Dawn::OPTIONS.schedule, Some("solar: sunrise 48.8566 2.3522"));
    let schedule: stem::beat::Schedule = Morning::OPTIONS.schedule.unwrap_or_default().parse().expect("parses at run time too");
    assert_eq!(schedule.to_string(), "cron: 0 8 * * 1-5 Europe/Paris");
}
