//! A backend's event stream through the gateway's SSE splitter: the first byte says how many
//! of the following bytes choose where the stream is cut into chunks; the rest is the stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    apiary_server::gateway::fuzzing::events_input(input);
});
