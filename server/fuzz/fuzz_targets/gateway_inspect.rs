//! A backend's JSON answer through the gateway's tools/list curation and call measurement.
#![no_main]

libfuzzer_sys::fuzz_target!(|answer: &[u8]| {
    apiary_server::gateway::fuzzing::inspect(answer);
});
