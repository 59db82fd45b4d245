#[stem::task(queue = "emails", retries = 3)]
async fn send_email(to: String) -> Result<(), stem::TaskError> {
    let _ = to;
    Ok(())
}

fn main() {}
