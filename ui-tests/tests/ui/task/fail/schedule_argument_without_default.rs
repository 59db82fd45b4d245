#[derive(serde::Serialize, serde::Deserialize)]
pub struct Recipient {
    pub email: String,
}

#[stem::task(schedule = "every 1h")]
async fn remind(recipient: Recipient) -> Result<(), stem::TaskError> {
    let _ = recipient;
    Ok(())
}

#[stem::task(schedule = "cron: @daily")]
async fn digest(days: u32, recipient: Recipient) -> Result<(), stem::TaskError> {
    let _ = (days, recipient);
    Ok(())
}

fn main() {}
