#[stem::task]
async fn send_email(to: String, subject: String) -> Result<(), stem::TaskError> {
    let _ = (to, subject);
    Ok(())
}

async fn produce(stem: &stem::Stem) -> stem::Result<()> {
    SendEmail::enqueue(stem, "ada@example.com".to_owned()).await?;
    Ok(())
}

fn main() {
    let _ = produce;
}
