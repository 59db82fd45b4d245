//! Runs the trybuild cases under `tests/ui`.

#[test]
fn task_macro() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/task/pass/*.rs");
    cases.compile_fail("tests/ui/task/fail/*.rs");
}

#[test]
fn workflow_macros() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/workflow/pass/*.rs");
    cases.compile_fail("tests/ui/workflow/fail/*.rs");
}

#[test]
fn event_macro() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/event/pass/*.rs");
    cases.compile_fail("tests/ui/event/fail/*.rs");
}

#[test]
fn canvas() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/canvas/pass/*.rs");
    cases.compile_fail("tests/ui/canvas/fail/*.rs");
}
