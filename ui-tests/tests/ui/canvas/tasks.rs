// The tasks every canvas case composes, included by each (not a case itself).
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
