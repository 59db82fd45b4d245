#[stem::workflow]
async fn count(wf: stem::WorkflowContext, text: String) -> Result<u64, stem::WorkflowError> {
    let _ = wf;
    Ok(text.len() as u64)
}

async fn produce(stem: &stem::Stem) -> stem::Result<()> {
    let run = Count::start(stem, "words".to_owned()).await?;
    let words: String = run.wait().await?;
    let _ = words;
    Ok(())
}

fn main() {
    let _ = produce;
}
