//! A client's POST body through the gateway's request planning: never a panic, and nothing
//! unpublished forwarded.
#![no_main]

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    apiary_server::gateway::fuzzing::plan(body);
});
