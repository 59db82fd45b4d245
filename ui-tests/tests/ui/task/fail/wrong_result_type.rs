#[stem::task]
async fn count(text: String) -> Result<u64, stem::TaskError> {
    Ok(text.len() as u64)
}

async fn produce(stem: &stem::Stem) -> stem::Result<()> {
    let handle = Count::enqueue(stem, "words".to_owned()).await?;
    let words: String = handle.wait().await?;
    let _ = words;
    Ok(())
}

fn main() {
    let _ = produce;
}
