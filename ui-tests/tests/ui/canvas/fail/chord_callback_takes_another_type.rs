include!("../tasks.rs");

/// The group gives `Vec<i64>`; `describe` takes an `i64` first.
async fn demo(stem: &Stem) -> stem::Result<()> {
    let header = group(vec![Square::call(1), Square::call(2)]);
    chord(header, Describe::link("apples".into())).enqueue(stem).await?;
    Ok(())
}

fn main() {}
