#[stem::task(time_limit = "30 seconds")]
async fn send_email(to: String) -> Result<(), stem::TaskError> {
    let _ = to;
    Ok(())
}

fn main() {}
