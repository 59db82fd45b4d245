#[stem::task]
async fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[stem::task]
async fn read(path: String) -> Result<String, std::io::Error> {
    Ok(path)
}

#[stem::task]
async fn aliased(n: u32) -> stem::Result<u32> {
    Ok(n)
}

fn main() {
    let _ = (Parse::call("1".to_owned()), Read::call("/".to_owned()), Aliased::call(1));
}
