#[stem::workflow]
async fn count(wf: stem::WorkflowContext, text: String) -> Result<u64, stem::WorkflowError> {
    let _ = wf;
    Ok(text.len() as u64)
}

async fn produce(stem: &stem::Stem) -> stem::Result<()> {
    let _ = Count::start(stem, 42).await?;
    Ok(())
}

fn main() {
    let _ = produce;
}
