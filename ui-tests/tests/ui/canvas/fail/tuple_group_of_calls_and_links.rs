include!("../tasks.rs");

/// A group of a full call and a link: the members take different inputs.
async fn demo(stem: &Stem) -> stem::Result<()> {
    group((Square::call(1), Square::link())).enqueue(stem).await?;
    Ok(())
}

fn main() {}
