#[stem::task(schedule = "cron: 0 8 * * * Mars/Olympus")]
async fn unknown_zone() -> Result<(), stem::TaskError> {
    Ok(())
}

#[stem::task(schedule = "cron: 0 25 * * *")]
async fn bad_expression() -> Result<(), stem::TaskError> {
    Ok(())
}

#[stem::task(schedule = "every 0s")]
async fn zero_interval() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
