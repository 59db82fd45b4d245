include!("../tasks.rs");

/// `ping` takes nothing, so nothing can come before it.
async fn demo(stem: &Stem) -> stem::Result<()> {
    chain(Square::call(1)).then(Ping::link()).enqueue(stem).await?;
    Ok(())
}

fn main() {}
