use stem::EventTopic;

pub struct Parcel;

#[stem::event]
pub const SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");

fn main() {}
