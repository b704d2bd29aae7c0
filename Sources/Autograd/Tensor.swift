/// An fp32 tensor: contiguous, row-major, owning its storage.
///
/// A reference type because the tape's backward closures and the optimiser must all see
/// the same buffers. `grad` is allocated (zeroed) on first use, so tensors that never take
/// part in a backward pass cost no gradient memory.
public final class Tensor {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    /// The values. Owned: freed when the tensor is (or by `releaseData`).
    public private(set) var data: UnsafeMutableBufferPointer<Float>
    /// Whether backward passes accumulate into `grad` for this tensor.
    public let requiresGrad: Bool
    private var gradStorage: UnsafeMutableBufferPointer<Float>?

    /// A zero-filled tensor.
    public convenience init(shape: [Int], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape, requiresGrad: requiresGrad)
        data.initialize(repeating: 0)
    }

    /// A tensor whose values are whatever its buffer held: for an op's output that the op
    /// overwrites entirely, where zero-filling first was 0.12 s of a 7 s `small` step.
    public init(uninitializedShape shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.requiresGrad = requiresGrad
        data = BufferPool.shared.allocate(count)
    }

    /// A tensor holding `values` (count must match `shape`).
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape, requiresGrad: requiresGrad)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        _ = data.update(fromContentsOf: values)
    }

    deinit {
        BufferPool.shared.release(data)
        if let gradStorage { BufferPool.shared.release(gradStorage) }
    }

    /// The gradient buffer, same shape as `data`; allocated zeroed on first access.
    public var grad: UnsafeMutableBufferPointer<Float> {
        if let storage = gradStorage { return storage }
        let storage = BufferPool.shared.allocate(count)
        storage.initialize(repeating: 0)
        gradStorage = storage
        return storage
    }

    /// Where an op puts its contribution to this tensor's gradient. While no op has
    /// contributed yet there is no buffer: one is handed out uninitialised with
    /// `accumulate == false`, and the op must write every element (`=`, sgemm's beta 0)
    /// instead of adding. That skips a zero-fill and a read of the zeros per activation
    /// gradient; the values are the same, since 0 + x is x.
    public func gradientDestination() -> GradientDestination {
        if let storage = gradStorage { return GradientDestination(pointer: storage.pointer, accumulate: true) }
        let storage = BufferPool.shared.allocate(count)
        gradStorage = storage
        return GradientDestination(pointer: storage.pointer, accumulate: false)
    }

    /// Sets the gradient to zero, keeping its buffer.
    public func zeroGrad() {
        gradStorage?.update(repeating: 0)
    }

    /// Frees the values while keeping the tensor (shape, gradient, identity): for
    /// activations that a checkpoint will rebuild. `restoreData` gives a buffer back.
    public func releaseData() {
        BufferPool.shared.release(data)
        data = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// Gives a released tensor a buffer for its values again (uninitialised: the caller
    /// fills it).
    public func restoreData() {
        guard data.baseAddress == nil else { return }
        data = BufferPool.shared.allocate(count)
    }

    /// The value of a one-element tensor (a loss). Read values through the tensor, not
    /// through a copy of `data`: the tensor may be freed once its last use has passed, and
    /// `data` with it, before an element read through a bare pointer.
    public var scalar: Float {
        get { data[0] }
        set { data[0] = newValue }
    }

    /// The values as an array (for tests and small reads).
    public var values: [Float] { Array(data) }

    /// The gradient as an array (zeros if none was accumulated).
    public var gradValues: [Float] { gradStorage.map { Array($0) } ?? [Float](repeating: 0, count: count) }

    /// Size of the innermost dimension (rows are `count / lastDimension`).
    public var lastDimension: Int { shape.last ?? 1 }

    /// Number of rows when the tensor is seen as a matrix `[rows, lastDimension]`.
    public var rows: Int { lastDimension == 0 ? 0 : count / lastDimension }
}

/// A gradient buffer and whether an op adds to it or overwrites it (`Tensor.gradientDestination`).
public struct GradientDestination {
    public let pointer: UnsafeMutablePointer<Float>
    /// False: the buffer is uninitialised and the op writes every element.
    public let accumulate: Bool
    /// sgemm's beta for a product that is the whole contribution.
    public var beta: Float { accumulate ? 1 : 0 }

    /// Puts `alpha · source[0..<count]` into the gradient: added to it, or written when no
    /// op has contributed yet.
    public func put(_ source: UnsafePointer<Float>, scaledBy alpha: Float = 1, count: Int) {
        if accumulate { saxpy(count: count, alpha: alpha, x: source, y: pointer); return }
        let destination = pointer
        ParallelLoops.forEachRange(count, grain: 1 << 16) { _, range in
            if alpha == 1 {
                (destination + range.lowerBound).update(from: source + range.lowerBound, count: range.count)
            } else {
                for i in range { destination[i] = alpha * source[i] }
            }
        }
    }
}
