include!("../tasks.rs");

/// The arguments after the first must be serializable too.
struct Size(u32);

#[stem::task]
async fn scale(image: Vec<u8>, size: Size) -> Result<Vec<u8>, TaskError> {
    Ok(image.into_iter().take(size.0 as usize).collect())
}

fn main() {}
