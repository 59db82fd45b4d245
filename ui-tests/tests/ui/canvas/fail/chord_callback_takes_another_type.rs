#[allow(unused_imports)]
use stem::canvas::{chain, chord, group};
use stem::prelude::*;

#[stem::task]
async fn fetch(url: String) -> Result<String, TaskError> {
    Ok(url)
}

#[stem::task]
async fn resize(image: Vec<u8>, width: u32) -> Result<Vec<u8>, TaskError> {
    Ok(image.into_iter().take(width as usize).collect())
}

#[stem::task]
async fn square(n: i64) -> Result<i64, TaskError> {
    Ok(n * n)
}

#[stem::task]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

#[stem::task]
async fn describe(n: i64, unit: String) -> Result<String, TaskError> {
    Ok(format!("{n} {unit}"))
}

#[stem::task]
async fn ping() -> Result<(), TaskError> {
    Ok(())
}

/// The group gives `Vec<i64>`; `describe` takes an `i64` first.
async fn demo(stem: &Stem) -> stem::Result<()> {
    let header = group(vec![Square::call(1), Square::call(2)]);
    chord(header, Describe::link("apples".into())).enqueue(stem).await?;
    Ok(())
}

fn main() {}
