import Foundation

/// A caching allocator for float buffers, keyed by exact size.
///
/// A training step allocates the same activation and gradient shapes every time. Through
/// `malloc` each one of a few MiB is a fresh `mmap`: the kernel faults in and zeroes every
/// page, then `munmap` gives them back. That was a third of the step time on the `small`
/// benchmark. Freed buffers are kept here instead, up to `capacityBytes`, and handed out
/// again, as PyTorch's caching allocator does for GPU memory. Thread-safe.
public final class BufferPool: @unchecked Sendable {
    /// The pool every `Tensor` and op scratch buffer uses.
    public static let shared = BufferPool()

    /// Most bytes kept for reuse; buffers freed beyond this go back to the system.
    public var capacityBytes: Int {
        get { lock.withLock { capacity } }
        set {
            lock.withLock {
                capacity = newValue; trimLocked()
            }
        }
    }

    /// Bytes currently cached (free, awaiting reuse).
    public var cachedBytes: Int { lock.withLock { cached } }

    /// Bytes of pooled-size buffers handed out and not yet released (tensors, scratch).
    public var liveBytes: Int { lock.withLock { live } }

    /// The most `liveBytes` reached since the last `resetPeak` (or since start): what a
    /// phase such as a checkpoint save allocated beyond what it started with.
    public var peakLiveBytes: Int { lock.withLock { peakLive } }

    /// Starts a new peak from the current `liveBytes`.
    public func resetPeak() { lock.withLock { peakLive = live } }

    /// Buffers smaller than this are cheap for malloc and are not pooled.
    static let minimumPooledCount = 16 * 1024

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cached = 0
    private var capacity = 2 << 30
    private var live = 0
    private var peakLive = 0

    /// An uninitialised buffer of exactly `count` floats.
    public func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if count >= Self.minimumPooledCount {
            let reused: UnsafeMutablePointer<Float>? = lock.withLock {
                live += count * MemoryLayout<Float>.stride
                peakLive = max(peakLive, live)
                guard let pointer = free[count]?.popLast() else { return nil }
                cached -= count * MemoryLayout<Float>.stride
                return pointer
            }
            if let reused { return UnsafeMutableBufferPointer(start: reused, count: count) }
        }
        return UnsafeMutableBufferPointer(start: .allocate(capacity: max(count, 1)), count: count)
    }

    /// Returns a buffer from `allocate` for reuse (or to the system past the capacity).
    public func release(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let count = buffer.count
        let bytes = count * MemoryLayout<Float>.stride
        guard let base = buffer.baseAddress else { return }
        guard count >= Self.minimumPooledCount else {
            base.deallocate()
            return
        }
        let kept: Bool = lock.withLock {
            live -= bytes
            guard cached + bytes <= capacity else { return false }
            free[count, default: []].append(base)
            cached += bytes
            return true
        }
        if !kept { base.deallocate() }
    }

    private func trimLocked() {
        while cached > capacity, let size = free.first(where: { !$0.value.isEmpty })?.key {
            free[size]!.removeLast().deallocate()
            cached -= size * MemoryLayout<Float>.stride
        }
        free = free.filter { !$0.value.isEmpty }
    }
}
