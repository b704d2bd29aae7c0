import Foundation

/// SplitMix64: a small, fast, well-mixed generator whose whole state is one integer, so it
/// can be derived from (seed, name) and saved in a checkpoint as a number.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    /// A stream keyed by a run seed and a name (e.g. a parameter name): the same pair
    /// gives the same values on every rank and in every parallel layout.
    public init(seed: UInt64, name: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the UTF-8 name
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var mixer = SplitMix64(state: seed ^ hash)
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so `log` is safe.
    public mutating func nextUnit() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }

    /// Standard normal by Box–Muller (one value per call; simple beats fast here).
    public mutating func nextNormal() -> Double {
        let u1 = nextUnit(), u2 = nextUnit()
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension SplitMix64 {
    /// Uniform integer in `0..<bound` (bound > 0); the tiny modulo bias is irrelevant here.
    public mutating func nextInt(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// A uniform permutation of `0..<count` (Fisher–Yates, from the last position down).
    public mutating func permutation(of count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, nextInt(below: i + 1)) }
        return order
    }

    /// Poisson(λ) by Knuth's product of uniforms (fine for the small λ of span counts).
    public mutating func nextPoisson(_ lambda: Double) -> Int {
        let limit = Foundation.exp(-lambda)
        var count = 0, product = nextUnit()
        while product > limit {
            count += 1
            product *= nextUnit()
        }
        return count
    }
}
