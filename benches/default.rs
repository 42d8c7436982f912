//! Criterion benchmarks of the protocol core's hot paths: parsing (RFC 5424,
//! RFC 3164, Cisco), RFC 6587 deframing, formatting in the device's three
//! formats, and the priority-table lookup. Run with
//! `cargo bench -p sinkd-benches`; figures are recorded in
//! `docs/performance.md`.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sinkd_benches::{framed_stream, CISCO_MESSAGE, RFC3164_MESSAGE, RFC5424_MESSAGE};
use sinkd_proto::format::{write_message, OutputFormat};
use sinkd_proto::framing::{Deframer, Framing};
use sinkd_proto::{parse, Facility, ReceiveTime, Severity};
use sinkd_route::{compile, Templates};

fn parsing(c: &mut Criterion) {
    let received = ReceiveTime::new(1_772_960_000, 0, 60);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    for (name, input) in [
        ("rfc5424", RFC5424_MESSAGE),
        ("rfc3164", RFC3164_MESSAGE),
        ("cisco", CISCO_MESSAGE),
    ] {
        group.bench_function(name, |b| b.iter(|| parse(black_box(input), &received)));
    }
    group.finish();
}

fn framing(c: &mut Criterion) {
    const COUNT: usize = 1000;
    let mut group = c.benchmark_group("deframe");
    group.throughput(Throughput::Elements(COUNT as u64));
    for (name, octet_counting) in [("lf", false), ("octet_counting", true)] {
        let stream = framed_stream(RFC5424_MESSAGE, COUNT, octet_counting);
        let framing = if octet_counting {
            Framing::OctetCounting
        } else {
            Framing::NonTransparent
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(&stream[..]);
                let mut deframer = Deframer::with_framing(framing, 64 * 1024);
                let mut n_frames = 0;
                while let Ok(Some(frame)) = deframer.decode(&mut buf) {
                    n_frames += frame.len();
                }
                n_frames
            })
        });
    }
    group.finish();
}

fn formatting(c: &mut Criterion) {
    let received = ReceiveTime::new(1_772_960_000, 0, 60);
    let message = parse(RFC5424_MESSAGE, &received);
    let fallback = received.local;
    let mut out = Vec::with_capacity(512);
    let mut group = c.benchmark_group("format");
    group.throughput(Throughput::Elements(1));
    for format in [
        OutputFormat::Bsd,
        OutputFormat::Rfc3164,
        OutputFormat::Rfc5424,
    ] {
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                out.clear();
                write_message(black_box(&message), format, &fallback, &mut out);
                out.len()
            })
        });
    }
    group.finish();
}

fn priority_lookup(c: &mut Criterion) {
    let templates = Templates::with_defaults();
    let table =
        compile("*.notice;auth.*;kern.!=err;local7.!debug", &templates).unwrap_or_else(|error| {
            panic!("benchmark expression must compile: {error}");
        });
    let pairs: Vec<(Facility, Severity)> = Facility::ALL
        .iter()
        .flat_map(|f| Severity::ALL.iter().map(move |s| (*f, *s)))
        .collect();
    let mut group = c.benchmark_group("priority");
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.bench_function("lookup_192", |b| {
        b.iter(|| {
            pairs
                .iter()
                .filter(|(facility, severity)| {
                    table.matches(black_box(*facility), black_box(*severity))
                })
                .count()
        })
    });
    group.bench_function("compile", |b| {
        b.iter(|| {
            compile(
                black_box("*.notice;auth.*;kern.!=err;local7.!debug"),
                &templates,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, framing, formatting, priority_lookup);
criterion_main!(benches);
