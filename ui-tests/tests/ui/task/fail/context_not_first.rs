use stem::TaskContext;

#[stem::task]
async fn send_email(to: String, ctx: TaskContext) -> Result<(), stem::TaskError> {
    let _ = (to, ctx);
    Ok(())
}

fn main() {}
