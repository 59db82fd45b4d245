include!("../tasks.rs");

/// Every composition the canvas allows, type-checked.
async fn demo(stem: &Stem) -> stem::Result<()> {
    let _: Vec<u8> = chain(Fetch::call("a".into())).then(Resize2::link(3)).enqueue(stem).await?.wait().await?;
    let _: i64 = chord(group(vec![Square::call(1)]), Total::link()).enqueue(stem).await?.wait().await?;
    let _: (i64, String) = group((Square::call(3), Fetch::call("b".into()))).enqueue(stem).await?.wait().await?;
    let fan = chain(Square::call(2)).then(group([Square::link(), Square::link()])).then(Total::link());
    let _: i64 = fan.enqueue(stem).await?.wait().await?;
    let chains = group(vec![chain(Square::call(2)).then(Square::link()), chain(Square::call(3)).then(Square::link())]);
    let _: Vec<i64> = chains.enqueue(stem).await?.wait().await?;
    let _: ((Vec<i64>, i64), String) = group((group((vec![Square::call(1)].into_iter().collect::<stem::canvas::Group<_>>(), Square::call(2))), Fetch::call("c".into()))).enqueue(stem).await?.wait().await?;
    Ok(())
}

/// Takes the bytes of a `String`.
#[stem::task]
async fn resize2(image: String, width: u32) -> Result<Vec<u8>, TaskError> {
    Ok(image.into_bytes().into_iter().take(width as usize).collect())
}

fn main() {}
