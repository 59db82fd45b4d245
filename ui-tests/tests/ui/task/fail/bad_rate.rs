#[stem::task(rate_limit = "10 per second")]
async fn send_email(to: String) -> Result<(), stem::TaskError> {
    let _ = to;
    Ok(())
}

fn main() {}
