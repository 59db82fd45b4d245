include!("../tasks.rs");

/// After a group comes the list of its outputs, `Vec<i64>`, not an `i64`.
async fn demo(stem: &Stem) -> stem::Result<()> {
    chain(group(vec![Square::call(1), Square::call(2)])).then(Square::link()).enqueue(stem).await?;
    Ok(())
}

fn main() {}
