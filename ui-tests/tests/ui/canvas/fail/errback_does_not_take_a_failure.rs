include!("../tasks.rs");

/// An errback takes the `TaskFailure` first; `square` takes an `i64`.
async fn demo(stem: &Stem) -> stem::Result<()> {
    Fetch::call("a.png".into()).link_error(Square::link()).enqueue(stem).await?;
    Ok(())
}

fn main() {}
