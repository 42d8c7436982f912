//! Hints to the processor: they change when memory is loaded, never what a
//! program computes.
//!
//! [`prefetch`] is how the store's writer threads hide the cache misses of
//! thousands of streams (the id table's slots and keys, each stream's state
//! and buffer tail, loaded a few lines before they are needed). It is
//! public so that other stages walking tables of devices (the worker's
//! device set) use this one rather than a copy.

/// Asks the processor to start loading the cache lines covering `bytes`
/// bytes from `address`, so that an access a little later finds them in
/// cache. Only a hint: nothing is read, and no address can fault, so any
/// pointer will do, even a dangling one. One prefetch is issued per 64
/// bytes; with `bytes` a constant of at most 64 that is a single
/// instruction. A no-op off x86-64.
///
/// ```
/// let slots = vec![0u64; 4096];
/// // The slot a lookup is about to probe.
/// sinkd_store::hint::prefetch(&slots[1234], std::mem::size_of::<u64>());
/// ```
#[inline]
pub fn prefetch<T>(address: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = address.cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: PREFETCHT0 never dereferences its operand in a way
            // that can fault or be observed; any address is allowed.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (address, bytes);
}
