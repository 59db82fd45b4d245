#[stem::event]
pub static SHIPPED: &str = "parcel.shipped";

fn main() {}
