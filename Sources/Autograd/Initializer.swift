import Foundation
import Randomness

/// Initialisers that fill a buffer in place.
public enum Initializer {
    /// Normal(0, std) truncated at ±`cutoff`·std by rejection (metaseq's `trunc_normal_`,
    /// CM3Leon §2.3). The standard deviation of the result is std·0.98658 for cutoff 3.
    public static func truncatedNormal(
        _ buffer: UnsafeMutableBufferPointer<Float>, std: Double,
        cutoff: Double = 3, generator: inout SplitMix64
    ) {
        for i in buffer.indices {
            var z = generator.nextNormal()
            while abs(z) > cutoff { z = generator.nextNormal() }
            buffer[i] = Float(z * std)
        }
    }

    /// Normal(0, std), untruncated.
    public static func normal(
        _ buffer: UnsafeMutableBufferPointer<Float>, std: Double,
        generator: inout SplitMix64
    ) {
        for i in buffer.indices { buffer[i] = Float(generator.nextNormal() * std) }
    }
}
