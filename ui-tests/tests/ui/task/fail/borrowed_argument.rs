#[stem::task]
async fn greet(name: &str, tags: Vec<&str>) -> Result<String, stem::TaskError> {
    Ok(format!("{name} {}", tags.len()))
}

fn main() {}
