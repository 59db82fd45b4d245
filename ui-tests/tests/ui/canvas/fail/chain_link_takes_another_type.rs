include!("../tasks.rs");

/// `fetch` gives a `String`; `resize` takes `Vec<u8>` first.
async fn demo(stem: &Stem) -> stem::Result<()> {
    chain(Fetch::call("a.png".into())).then(Resize::link(300)).enqueue(stem).await?;
    Ok(())
}

fn main() {}
