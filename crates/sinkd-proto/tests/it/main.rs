//! Integration tests for sinkd-proto.
mod corpus;
mod roundtrip;
