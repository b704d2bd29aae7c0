import Dispatch
import Foundation

/// Where a training step's time goes, for `launch bench`: wall time in matrix products,
/// attention, communication and the optimizer, each measured on the main thread around the
/// outermost such region (a product inside attention counts as attention), plus the wall
/// time of forward and backward. Off unless `launch bench` turns it on; then it costs two
/// clock reads per region.
public enum StepProfile {
    public enum Category: Int, CaseIterable, Sendable {
        case matrixProducts, attention, communication, optimizer
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) private static var active = false
    nonisolated(unsafe) private static var totals = [Double](repeating: 0, count: Category.allCases.count)
    /// Wall time of forward and backward (categories inside it included).
    nonisolated(unsafe) public static var forwardBackwardSeconds = 0.0

    /// Seconds spent in `category` since the last `reset`.
    public static func seconds(_ category: Category) -> Double { totals[category.rawValue] }

    public static func reset() {
        totals = [Double](repeating: 0, count: Category.allCases.count)
        forwardBackwardSeconds = 0
    }

    /// Runs `body`, adding its wall time to `category` unless another category is already
    /// being timed (or this is a worker thread, whose time the caller's region holds).
    @inline(__always)
    public static func measure<T>(_ category: Category, _ body: () throws -> T) rethrows -> T {
        guard isEnabled, Thread.isMainThread, !active else { return try body() }
        active = true
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            totals[category.rawValue] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            active = false
        }
        return try body()
    }

    /// Runs `body`, adding its wall time to `forwardBackwardSeconds` (categories inside it
    /// are still timed).
    public static func measureForwardBackward<T>(_ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { forwardBackwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }
}
