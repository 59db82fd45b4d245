include!("../tasks.rs");

/// The tuple group gives `(i64, String)`.
async fn demo(stem: &Stem) -> stem::Result<()> {
    let both = group((Square::call(3), Describe::call(DescribeArgs { n: 1, unit: "pear".into() })));
    let (text, n): (String, i64) = both.enqueue(stem).await?.wait().await?;
    let _ = (text, n);
    Ok(())
}

fn main() {}
