include!("../tasks.rs");

/// Squares are `i64`, not `String`.
async fn demo(stem: &Stem) -> stem::Result<()> {
    let names: Vec<String> = group(vec![Square::call(1), Square::call(2)]).enqueue(stem).await?.wait().await?;
    let _ = names;
    Ok(())
}

fn main() {}
