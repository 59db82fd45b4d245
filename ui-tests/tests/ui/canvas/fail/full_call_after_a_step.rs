include!("../tasks.rs");

/// A step after another takes its output: `Square::link()`, not `Square::call(2)`.
async fn demo(stem: &Stem) -> stem::Result<()> {
    chain(Square::call(1)).then(Square::call(2)).enqueue(stem).await?;
    Ok(())
}

fn main() {}
