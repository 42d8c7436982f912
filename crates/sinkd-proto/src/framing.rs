//! RFC 6587 framing. Being written.
