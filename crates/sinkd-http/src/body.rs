//! Response bodies: a whole body for small answers, and a body fed through
//! a bounded channel for the ones a blocking reader produces piece by piece
//! (a message listing, a Server-Sent Events stream). The channel's bound is
//! the backpressure: a slow client slows the reader, never grows memory.
//! An `Err` item ends the response abruptly, so a client can tell a cut
//! listing from a complete one.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame};
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Every response's body type.
pub(crate) type ResponseBody = BoxBody<Bytes, io::Error>;

/// Pieces in flight between a reader and its connection.
pub(crate) const CHANNEL_PIECES: usize = 8;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body fed by the returned sender.
pub(crate) fn channel() -> (mpsc::Sender<io::Result<Bytes>>, ResponseBody) {
    let (sender, receiver) = mpsc::channel(CHANNEL_PIECES);
    (sender, ChannelBody(receiver).boxed())
}

struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|piece| piece.map(Frame::data)))
    }
}
