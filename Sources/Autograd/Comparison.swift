/// The largest element-wise difference between `a` and `b`, relative to the largest
/// magnitude in `b` (the reference): how layouts, resumes and references are compared
/// throughout (e.g. "every gradient within 1e-4 relative, max-abs over the tensor").
/// Infinite when the counts differ; the absolute difference when `b` is all zeros.
public func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var largest = 0.0, worst = 0.0
    for (x, y) in zip(a, b) {
        largest = max(largest, Double(abs(y)))
        worst = max(worst, Double(abs(x - y)))
    }
    return largest == 0 ? worst : worst / largest
}
