//! Integration tests for sinkd-proto.
