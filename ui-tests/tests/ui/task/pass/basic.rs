use serde::{Deserialize, Serialize};
use stem::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Receipt {
    pub to: String,
    pub id: u64,
}

/// Sends one email.
#[stem::task(queue = "emails")]
async fn send_email(ctx: TaskContext, to: String, subject: String) -> Result<Receipt, TaskError> {
    ctx.progress(0.5).await?;
    Ok(Receipt { to, id: subject.len() as u64 })
}

async fn produce(stem: &Stem) -> stem::Result<Receipt> {
    let args = SendEmailArgs { to: "ada@example.com".to_owned(), subject: "hi".to_owned() };
    let handle: TaskHandle<Receipt> = SendEmail::enqueue(stem, args).await?;
    handle.wait().await
}

fn main() {
    let _ = produce;
    assert!(SendEmail::NAME.ends_with("::send_email"), "{}", SendEmail::NAME);
    assert_eq!(SendEmail::OPTIONS.queue, "emails");
    // The fn stays callable as written.
    let _ = send_email;
}
