//! Reloads in two steps (`Relays::prepare`, then `RelayPlan::commit`): a
//! broken TLS file refuses the reload and the running relay delivers on; a
//! changed relay restarts behind the same handle and loses nothing offered
//! before, during or after the commit; unchanged TLS relays get the files
//! read again; a dropped plan leaves no thread or spool behind.

use crate::delivery::offer_all;
use crate::support::{
    assert_same, eventually, free_port, metrics, numbered, relay_config, Behaviour, Pki,
    StreamReceiver,
};
use sinkd_metrics::DropReason;
use sinkd_proto::framing::Framing;
use sinkd_relay::{Overflow, Relay, RelayConfig, RelayError, RelayHandle, RelayTransport, Relays};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Threads of this process whose name is `name`.
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .count()
}

/// Starts the relay of `config` as the only one, through a plan, and
/// returns its handle.
fn prepare_and_commit(relays: &Relays, config: &RelayConfig) -> RelayHandle {
    let plan = relays.prepare(vec![config.clone()]).unwrap();
    let handle = plan.handle(&config.name).unwrap();
    plan.commit();
    handle
}

/// The messages in their first arrival, duplicates (resent after a
/// reconnect) left out.
fn first_arrivals(received: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    received
        .iter()
        .filter(|message| seen.insert(message.to_vec()))
        .cloned()
        .collect()
}

#[test]
fn a_garbage_ca_refuses_the_reload_and_the_relay_keeps_delivering() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = StreamReceiver::tls(0, &pki);
    let metrics = metrics();
    let relays = Relays::new(metrics.clone());
    let mut config = relay_config(
        "tlsca",
        RelayTransport::Tls,
        receiver.addr.port(),
        dir.path(),
    );
    config.tls = Some(pki.client_files(false, "localhost"));
    let handle = prepare_and_commit(&relays, &config);
    let messages = numbered("r1", 0..3000);
    assert_eq!(offer_all(&handle, &messages[..1000], 100), 1000);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 1000));

    std::fs::write(pki.ca_path(), "not a certificate\n").unwrap();
    // Unchanged settings: the CA file is read again, and refused.
    let error = relays.prepare(vec![config.clone()]).unwrap_err();
    assert!(matches!(error, RelayError::TlsFile { .. }), "{error:?}");
    assert!(error.to_string().contains("tlsca"), "{error}");
    // Changed settings: refused the same way, before anything stops.
    let mut changed = config.clone();
    changed.queue_memory = 500;
    let error = relays.prepare(vec![changed]).unwrap_err();
    assert!(matches!(error, RelayError::TlsFile { .. }), "{error:?}");
    assert_eq!(relays.names(), ["tlsca"]);
    assert_eq!(threads_named("relay-tlsca"), 1);

    assert_eq!(offer_all(&handle, &messages[1000..], 100), 2000);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 3000));
    assert_eq!(receiver.messages(), messages);
    let counters = metrics.relay("tlsca");
    // One connection all along: the relay never stopped.
    assert_eq!(counters.connects.get(), 1);
    assert_eq!(counters.dropped(DropReason::RelayQueueFull).get(), 0);
    assert!(relays.shutdown().is_empty());
}

#[test]
fn a_changed_relay_restarts_behind_the_same_handle_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let metrics = metrics();
    let relays = Relays::new(metrics.clone());
    let mut config = relay_config(
        "changed",
        RelayTransport::Tcp,
        receiver.addr.port(),
        dir.path(),
    );
    config.queue_memory = 1000;
    let handle = prepare_and_commit(&relays, &config);

    let messages = numbered("r1", 0..40_000);
    let n_offered = AtomicUsize::new(0);
    let (accepted, offered_during) = std::thread::scope(|scope| {
        // Offers all the time, keeping at most 5,000 messages ahead of the
        // receiver, so batches are offered while the relay restarts.
        let offering = scope.spawn(|| {
            let mut accepted = 0;
            for chunk in messages.chunks(100) {
                let ahead = n_offered.load(Ordering::Relaxed).saturating_sub(5000);
                assert!(eventually(Duration::from_secs(30), || receiver.count() >= ahead));
                accepted += offer_all(&handle, chunk, 100);
                n_offered.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            accepted
        });
        assert!(eventually(Duration::from_secs(30), || n_offered
            .load(Ordering::Relaxed)
            >= 10_000));
        let mut changed = config.clone();
        changed.queue_memory = 5000;
        let plan = relays.prepare(vec![changed]).unwrap();
        let before = n_offered.load(Ordering::Relaxed);
        plan.commit();
        let offered_during = n_offered.load(Ordering::Relaxed) - before;
        (offering.join().unwrap(), offered_during)
    });
    assert_eq!(accepted, messages.len());
    // The old handle and the handle of a later plan (keeping the relay)
    // feed the same relay.
    let mut changed = config.clone();
    changed.queue_memory = 5000;
    let plan = relays.prepare(vec![changed]).unwrap();
    let plan_handle = plan.handle("changed").unwrap();
    plan.commit();
    let after = numbered("r2", 0..1000);
    assert_eq!(offer_all(&plan_handle, &after[..500], 100), 500);
    assert_eq!(offer_all(&handle, &after[500..], 100), 500);

    let expected: Vec<Vec<u8>> = messages.iter().chain(&after).cloned().collect();
    assert!(eventually(Duration::from_secs(60), || {
        first_arrivals(&receiver.messages()).len() >= expected.len()
    }));
    println!("{offered_during} messages offered while the commit ran");
    assert_same(&first_arrivals(&receiver.messages()), &expected);
    let counters = metrics.relay("changed");
    assert_eq!(counters.dropped(DropReason::RelayQueueFull).get(), 0);
    assert!(counters.connects.get() >= 2, "the relay restarted");
    assert_eq!(threads_named("relay-changed"), 1);
    assert!(relays.shutdown().is_empty());
}

#[test]
fn a_restart_hands_the_queue_over_while_the_target_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics = metrics();
    let relays = Relays::new(metrics.clone());
    let mut config = relay_config("handover", RelayTransport::Tcp, port, dir.path());
    config.queue_memory = 1000;
    let handle = prepare_and_commit(&relays, &config);
    let messages = numbered("r1", 0..5000);
    // These stay in memory: the target is down.
    assert_eq!(offer_all(&handle, &messages[..800], 100), 800);
    let counters = metrics.relay("handover");
    assert!(eventually(Duration::from_secs(10), || counters
        .queue_depth
        .get()
        == 800));

    // New limits, a smaller spool (so smaller segments) among them.
    let mut changed = config.clone();
    changed.queue_memory = 100;
    changed.queue_disk = 4 * 1024 * 1024;
    changed.overflow = Overflow::RefuseNew;
    relays.prepare(vec![changed]).unwrap().commit();
    assert_eq!(offer_all(&handle, &messages[800..], 100), 4200);
    assert!(eventually(Duration::from_secs(10), || counters
        .queue_disk_messages
        .get()
        == 5000));

    // Never connected before, so each message arrives exactly once.
    let receiver = StreamReceiver::start(port, Framing::OctetCounting, None, Behaviour::Record);
    assert!(eventually(Duration::from_secs(30), || receiver.count()
        >= messages.len()));
    assert_eq!(receiver.messages(), messages);
    assert_eq!(counters.dropped(DropReason::RelayQueueFull).get(), 0);
    assert_eq!(counters.dropped(DropReason::RelaySpoolError).get(), 0);
    assert!(relays.shutdown().is_empty());
}

#[test]
fn an_unchanged_tls_relay_connects_next_with_the_files_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let old_pki = Pki::new(dir.path());
    let new_dir = tempfile::tempdir().unwrap();
    let new_pki = Pki::new(new_dir.path());
    let receiver = StreamReceiver::tls(0, &old_pki);
    let port = receiver.addr.port();
    let metrics = metrics();
    let relays = Relays::new(metrics.clone());
    let mut config = relay_config("tlsfiles", RelayTransport::Tls, port, dir.path());
    config.tls = Some(old_pki.client_files(false, "localhost"));
    let handle = prepare_and_commit(&relays, &config);
    let first = numbered("r1", 0..100);
    offer_all(&handle, &first, 50);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 100));

    // The target moves to a certificate of another CA, and the relay's CA
    // file (same path, same settings) is replaced to match.
    std::fs::copy(new_pki.ca_path(), old_pki.ca_path()).unwrap();
    relays.prepare(vec![config]).unwrap().commit();
    let counters = metrics.relay("tlsfiles");
    assert_eq!(counters.connects.get(), 1, "the connection was kept");
    receiver.stop();
    let receiver = StreamReceiver::tls(port, &new_pki);
    let second = numbered("r2", 0..100);
    offer_all(&handle, &second, 50);
    assert!(eventually(Duration::from_secs(30), || {
        let received = receiver.messages();
        second.iter().all(|message| received.contains(message))
    }));
    assert!(counters.connects.get() >= 2);
    assert!(relays.shutdown().is_empty());
}

#[test]
fn a_dropped_plan_releases_what_it_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let port = receiver.addr.port();
    let metrics = metrics();
    let relays = Relays::new(metrics.clone());
    let kept = relay_config("kept", RelayTransport::Tcp, port, dir.path());
    let kept_handle = prepare_and_commit(&relays, &kept);

    // A plan that changes "kept" and adds "abandoned", then is dropped.
    let mut kept_changed = kept.clone();
    kept_changed.queue_memory = 10;
    let abandoned = relay_config("abandoned", RelayTransport::Tcp, port, dir.path());
    let plan = relays
        .prepare(vec![kept_changed, abandoned.clone()])
        .unwrap();
    assert_eq!(threads_named("relay-abandoned"), 1);
    assert_eq!(threads_named("relay-kept"), 2, "the running and the parked");
    let abandoned_handle = plan.handle("abandoned").unwrap();
    drop(plan);
    assert!(eventually(Duration::from_secs(5), || {
        threads_named("relay-abandoned") == 0 && threads_named("relay-kept") == 1
    }));
    assert_eq!(relays.names(), ["kept"]);

    // The new relay's handle refuses, counting what it refused.
    assert_eq!(offer_all(&abandoned_handle, &numbered("r1", 0..10), 10), 0);
    let abandoned_counters = metrics.relay("abandoned");
    assert_eq!(
        abandoned_counters.dropped(DropReason::RelayQueueFull).get(),
        10
    );
    // Its spool was closed: another relay can open it.
    Relay::start(abandoned, metrics.clone())
        .unwrap()
        .shutdown()
        .unwrap();

    // The running relay is as it was: one connection, still delivering.
    let messages = numbered("r2", 0..1000);
    assert_eq!(offer_all(&kept_handle, &messages, 100), 1000);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 1000));
    assert_eq!(receiver.messages(), messages);
    assert_eq!(metrics.relay("kept").connects.get(), 1);

    // A committed plan without it stops it.
    relays.prepare(Vec::new()).unwrap().commit();
    assert!(relays.names().is_empty());
    assert!(eventually(Duration::from_secs(5), || threads_named(
        "relay-kept"
    ) == 0));
}

#[test]
fn two_relays_with_one_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relays = Relays::new(metrics());
    let config = relay_config("twice", RelayTransport::Tcp, free_port(), dir.path());
    let error = relays.prepare(vec![config.clone(), config]).unwrap_err();
    assert!(
        matches!(error, RelayError::InvalidConfig { .. }),
        "{error:?}"
    );
    assert!(relays.names().is_empty());
    assert_eq!(threads_named("relay-twice"), 0);
}
