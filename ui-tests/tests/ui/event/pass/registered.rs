use serde::{Deserialize, Serialize};
use serde_json::json;
use stem::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Parcel {
    pub tracking: String,
}

/// Sent when a parcel leaves the warehouse.
#[stem::event]
pub const PARCEL_SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");

/// What the CLI lists about a task and checks its arguments against.
#[stem::task]
async fn send_email(to: String, copies: Vec<u8>) -> Result<Option<String>, TaskError> {
    let _ = copies;
    Ok(Some(to))
}

fn main() {
    let topic = stem::workflow::linked_events().find(|e| e.name() == "parcel.shipped").expect("registered");
    assert_eq!((topic.value_type(), topic.doc()), ("Parcel", "Sent when a parcel leaves the warehouse."));
    assert!(topic.check(&json!({ "tracking": "1Z" })).is_ok());
    let error = topic.check(&json!({ "tracking": 5 })).expect_err("a number is no string");
    assert!(error.to_string().contains("`tracking`: invalid type: integer `5`, expected a string"), "{error}");
    assert_eq!(PARCEL_SHIPPED.name(), "parcel.shipped", "the constant is as written");

    let args: Vec<(&str, &str)> = SendEmail::ARGS.iter().map(|a| (a.name, a.ty)).collect();
    assert_eq!(args, [("to", "String"), ("copies", "Vec<u8>")]);
    assert_eq!(SendEmail::OUTPUT_TYPE, "Option<String>");
    assert_eq!(SendEmail::DOC, "What the CLI lists about a task and checks its arguments against.");
}
