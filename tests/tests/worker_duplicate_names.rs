//! Two tasks with one name are an error at worker start naming both places.

use stem::{Registry, Stem, Worker};

mod billing {
    #[stem::task(name = "charge")]
    pub(crate) async fn charge_card() -> Result<(), stem::TaskError> {
        Ok(())
    }
}

mod legacy {
    #[stem::task(name = "charge")]
    pub(crate) async fn old_charge() -> Result<(), stem::TaskError> {
        Ok(())
    }
}

#[test]
fn linked_duplicates_fail_at_worker_start_with_both_locations() {
    let error = Worker::builder(&Stem::in_memory()).build().expect_err("two tasks are named `charge`");
    let message = error.to_string();
    assert!(message.starts_with("two tasks are named `charge`"), "{message}");
    let file = "tests/tests/worker_duplicate_names.rs";
    assert!(message.contains(&format!("{file}:7")), "{message}");
    assert!(message.contains(&format!("{file}:14")), "{message}");
    let (seven, fourteen) = (message.find(&format!("{file}:7")), message.find(&format!("{file}:14")));
    assert!(seven < fourteen, "in source order, line 7 before line 14: {message}");
}

#[test]
fn registering_by_hand_detects_them_too() {
    let registry = Registry::new().register::<billing::ChargeCard>().register::<legacy::OldCharge>();
    let error = registry.check().expect_err("two tasks are named `charge`");
    assert!(error.to_string().contains("two tasks are named `charge`"), "{error}");
    let same_twice = Registry::new().register::<billing::ChargeCard>().register::<billing::ChargeCard>();
    assert!(same_twice.check().is_ok(), "registering one task twice is harmless");
}
