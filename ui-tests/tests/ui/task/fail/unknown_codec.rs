#[stem::task(codec = "yaml")]
async fn send_email(to: String) -> Result<(), stem::TaskError> {
    let _ = to;
    Ok(())
}

fn main() {}
