//! Integration tests for sinkd-proto.
mod conformance;
mod corpus;
mod roundtrip;
