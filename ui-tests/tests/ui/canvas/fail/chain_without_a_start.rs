include!("../tasks.rs");

/// A chain that starts with a link needs an input: it cannot be enqueued.
async fn demo(stem: &Stem) -> stem::Result<()> {
    chain(Square::link()).then(Square::link()).enqueue(stem).await?;
    Ok(())
}

fn main() {}
