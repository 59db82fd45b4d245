#[stem::event]
pub const SHIPPED: &str = "parcel.shipped";

fn main() {}
